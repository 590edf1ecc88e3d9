//! HTTP/1.1 response framing, incremental: feed it bytes as they arrive, it says when the
//! response is complete. Every size is checked before it is believed (no preallocation from
//! Content-Length, chunk sizes bounded: the CVE-2017-8798 class cannot happen here).

use super::ParseError;
use crate::limits::{HTTP_CHUNK_OVERHEAD_MAX, HTTP_HEAD_MAX, HTTP_INTERIM_MAX};

/// A complete HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// `Location` header of a 3xx (reported, never followed).
    pub location: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
enum Body {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

#[derive(Debug)]
enum Chunk {
    /// Reading the hex size; `digits` so far, `ext` once past ';' or whitespace.
    Size {
        value: u64,
        digits: u32,
        ext: bool,
    },
    Data(u64),
    /// After the data: expecting CRLF (or LF).
    DataEnd {
        seen_cr: bool,
    },
    /// Trailer section; `line_len` of the current line.
    Trailer {
        line_len: usize,
    },
}

#[derive(Debug)]
enum State {
    Head,
    Body(Body),
    Done,
}

/// Incremental response parser with a body size cap.
#[derive(Debug)]
pub struct ResponseParser {
    body_cap: usize,
    state: State,
    head: Vec<u8>,
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
    overhead: usize,
    /// Interim (1xx) responses skipped so far.
    interim: usize,
}

impl ResponseParser {
    /// A parser that refuses bodies larger than `body_cap` bytes.
    pub fn new(body_cap: usize) -> ResponseParser {
        ResponseParser { body_cap, state: State::Head, head: Vec::new(), status: 0, location: None, body: Vec::new(), overhead: 0, interim: 0 }
    }

    /// True once a whole response has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Feed received bytes. Returns `Ok(true)` when the response is complete (bytes after it
    /// are ignored: we always send `Connection: close`).
    pub fn feed(&mut self, mut data: &[u8]) -> Result<bool, ParseError> {
        while !data.is_empty() {
            match &mut self.state {
                State::Done => return Ok(true),
                State::Head => {
                    let used = self.feed_head(data)?;
                    data = &data[used..];
                }
                State::Body(_) => {
                    let used = self.feed_body(data)?;
                    data = &data[used..];
                }
            }
        }
        Ok(self.is_done())
    }

    /// The peer closed the connection: finish or report truncation.
    pub fn finish(mut self) -> Result<Response, ParseError> {
        match self.state {
            State::Done | State::Body(Body::UntilClose) => {
                self.state = State::Done;
                Ok(Response { status: self.status, location: self.location, body: self.body })
            }
            State::Head => Err(ParseError::new(if self.head.is_empty() {
                "connection closed with no response".to_string()
            } else {
                "connection closed inside the response head".to_string()
            })),
            State::Body(Body::Length(n)) => Err(ParseError::new(format!("connection closed with {n} body bytes missing"))),
            State::Body(Body::Chunked(_)) => Err(ParseError::new("connection closed before the last chunk")),
        }
    }

    /// Take the response once `feed` returned true.
    pub fn into_response(self) -> Option<Response> {
        match self.state {
            State::Done => Some(Response { status: self.status, location: self.location, body: self.body }),
            _ => None,
        }
    }

    fn feed_head(&mut self, data: &[u8]) -> Result<usize, ParseError> {
        // Look for the blank line in the bytes kept so far plus the new ones, one byte at a time
        // so nothing past the head is consumed.
        for (i, &b) in data.iter().enumerate() {
            self.head.push(b);
            if self.head.len() > HTTP_HEAD_MAX {
                return Err(ParseError::new(format!("response head exceeds {HTTP_HEAD_MAX} bytes")));
            }
            if b == b'\n' && (self.head.ends_with(b"\n\n") || self.head.ends_with(b"\n\r\n")) {
                let head = std::mem::take(&mut self.head);
                self.parse_head(&head)?;
                return Ok(i + 1);
            }
        }
        Ok(data.len())
    }

    fn parse_head(&mut self, head: &[u8]) -> Result<(), ParseError> {
        let text = std::str::from_utf8(head).map_err(|_| ParseError::new("response head is not UTF-8"))?;
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !(version == "HTTP/1.1" || version == "HTTP/1.0") {
            return Err(ParseError::new(format!("not an HTTP/1.x status line: '{}'", status_line.chars().take(40).collect::<String>())));
        }
        let code = parts.next().unwrap_or("");
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new(format!("bad status code '{code}'")));
        }
        let status: u16 = code.parse().map_err(|_| ParseError::new("bad status code"))?;
        if !(100..=599).contains(&status) {
            return Err(ParseError::new(format!("status {status} out of range")));
        }
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut location = None;
        for line in lines {
            if line.is_empty() {
                break;
            }
            let colon = line.find(':').ok_or_else(|| ParseError::new("malformed header line"))?;
            let name = line[..colon].trim();
            let value = line[colon + 1..].trim();
            if name.eq_ignore_ascii_case("Content-Length") {
                if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseError::new(format!("bad Content-Length '{}'", value.chars().take(24).collect::<String>())));
                }
                let n: u64 = value.parse().map_err(|_| ParseError::new("bad Content-Length"))?;
                if content_length.is_some_and(|old| old != n) {
                    return Err(ParseError::new("conflicting Content-Length headers"));
                }
                content_length = Some(n);
            } else if name.eq_ignore_ascii_case("Transfer-Encoding") {
                let last = value.rsplit(',').next().unwrap_or("").trim();
                if last.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                } else if !value.eq_ignore_ascii_case("identity") {
                    return Err(ParseError::new(format!("unsupported Transfer-Encoding '{value}'")));
                }
            } else if name.eq_ignore_ascii_case("Location") {
                location = Some(value.chars().take(256).collect());
            }
        }
        if (100..200).contains(&status) {
            // An interim response (100 Continue): the real one follows. A stream of them is
            // refused, not read until the deadline (issue 19).
            self.interim += 1;
            if self.interim > HTTP_INTERIM_MAX {
                return Err(ParseError::new(format!("more than {HTTP_INTERIM_MAX} interim (1xx) responses")));
            }
            return Ok(());
        }
        self.status = status;
        self.location = location;
        if chunked && content_length.is_some() {
            return Err(ParseError::new("both Content-Length and chunked framing (ambiguous)"));
        }
        self.state = if status == 204 || status == 304 {
            State::Done
        } else if chunked {
            State::Body(Body::Chunked(Chunk::Size { value: 0, digits: 0, ext: false }))
        } else if let Some(n) = content_length {
            if n > self.body_cap as u64 {
                return Err(ParseError::new(format!("body of {n} bytes exceeds the {} byte cap", self.body_cap)));
            }
            if n == 0 {
                State::Done
            } else {
                State::Body(Body::Length(n))
            }
        } else {
            State::Body(Body::UntilClose)
        };
        Ok(())
    }

    fn push_body(&mut self, bytes: &[u8]) -> Result<(), ParseError> {
        if self.body.len() + bytes.len() > self.body_cap {
            return Err(ParseError::new(format!("body exceeds the {} byte cap", self.body_cap)));
        }
        self.body.extend_from_slice(bytes);
        Ok(())
    }

    fn count_overhead(&mut self, n: usize) -> Result<(), ParseError> {
        self.overhead += n;
        if self.overhead > HTTP_CHUNK_OVERHEAD_MAX {
            return Err(ParseError::new("too much chunk framing (sizes, extensions or trailers)"));
        }
        Ok(())
    }

    fn feed_body(&mut self, data: &[u8]) -> Result<usize, ParseError> {
        let State::Body(body) = &mut self.state else { return Ok(0) };
        match body {
            Body::Length(remaining) => {
                let take = (*remaining).min(data.len() as u64) as usize;
                *remaining -= take as u64;
                let done = *remaining == 0;
                self.push_body(&data[..take])?;
                if done {
                    self.state = State::Done;
                }
                Ok(take)
            }
            Body::UntilClose => {
                self.push_body(data)?;
                Ok(data.len())
            }
            Body::Chunked(chunk) => match chunk {
                Chunk::Data(remaining) => {
                    let take = (*remaining).min(data.len() as u64) as usize;
                    *remaining -= take as u64;
                    if *remaining == 0 {
                        *chunk = Chunk::DataEnd { seen_cr: false };
                    }
                    self.push_body(&data[..take])?;
                    Ok(take)
                }
                _ => {
                    let b = data[0];
                    self.chunk_byte(b)?;
                    Ok(1)
                }
            },
        }
    }

    fn chunk_byte(&mut self, b: u8) -> Result<(), ParseError> {
        self.count_overhead(1)?;
        let body_len = self.body.len() as u64;
        let cap = self.body_cap as u64;
        let State::Body(Body::Chunked(chunk)) = &mut self.state else { return Ok(()) };
        match chunk {
            Chunk::Size { value, digits, ext } => {
                if b == b'\n' {
                    if *digits == 0 {
                        return Err(ParseError::new("chunk size line without a size"));
                    }
                    let size = *value;
                    if body_len + size > cap {
                        return Err(ParseError::new(format!("chunk of {size} bytes would exceed the {} byte cap", cap)));
                    }
                    *chunk = if size == 0 { Chunk::Trailer { line_len: 0 } } else { Chunk::Data(size) };
                } else if *ext || b == b'\r' {
                    // chunk extension or the CR before LF: skipped (bounded by the overhead cap)
                } else if b == b';' || b == b' ' || b == b'\t' {
                    *ext = true;
                } else {
                    let d = (b as char).to_digit(16).ok_or_else(|| ParseError::new(format!("bad chunk size byte 0x{b:02x}")))?;
                    *digits += 1;
                    // 15 hex digits keep the value far below u64 overflow; the cap check above
                    // rejects anything large long before that.
                    if *digits > 15 {
                        return Err(ParseError::new("chunk size too long"));
                    }
                    *value = *value * 16 + d as u64;
                }
            }
            Chunk::DataEnd { seen_cr } => match b {
                b'\r' if !*seen_cr => *seen_cr = true,
                b'\n' => *chunk = Chunk::Size { value: 0, digits: 0, ext: false },
                _ => return Err(ParseError::new("chunk data not followed by CRLF")),
            },
            Chunk::Trailer { line_len } => match b {
                b'\n' => {
                    if *line_len == 0 {
                        self.state = State::Done;
                    } else {
                        *line_len = 0;
                    }
                }
                b'\r' => {}
                _ => *line_len += 1,
            },
            Chunk::Data(_) => unreachable!("data bytes are taken in bulk"),
        }
        Ok(())
    }
}

/// Parse a whole response held in memory (the peer closed after `bytes`). Used by tests and
/// the fuzz target; the network client feeds the same parser incrementally.
pub fn parse_complete(bytes: &[u8], body_cap: usize) -> Result<Response, ParseError> {
    let mut p = ResponseParser::new(body_cap);
    if p.feed(bytes)? {
        return Ok(p.into_response().expect("done"));
    }
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_body() {
        let r = parse_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", 100).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
        let r = parse_complete(raw, 100).unwrap();
        assert_eq!(r.body, b"hello world");
    }

    #[test]
    fn body_until_close_and_lf_only_head() {
        let r = parse_complete(b"HTTP/1.0 500 Internal Server Error\nServer: x\n\n<fault/>", 100).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (500, &b"<fault/>"[..]));
    }

    #[test]
    fn byte_at_a_time_feeding_gives_the_same_result() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let mut p = ResponseParser::new(100);
        let mut done = false;
        for b in raw.iter() {
            done = p.feed(std::slice::from_ref(b)).unwrap();
        }
        assert!(done);
        assert_eq!(p.into_response().unwrap().body, b"abc");
    }

    #[test]
    fn a_stream_of_interim_responses_is_refused() {
        let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
        let mut at_cap = interim.repeat(HTTP_INTERIM_MAX);
        at_cap.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(parse_complete(&at_cap, 10).unwrap().body, b"ok");
        let mut p = ResponseParser::new(10);
        let mut fed = 0;
        let e = loop {
            match p.feed(interim) {
                Ok(_) => fed += 1,
                Err(e) => break e,
            }
            assert!(fed <= HTTP_INTERIM_MAX, "still reading after {fed} interim responses");
        };
        assert!(e.0.contains("interim"), "{e}");
    }

    #[test]
    fn interim_100_continue_is_skipped() {
        let r = parse_complete(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 10).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
    }

    #[test]
    fn refuses_hostile_framing() {
        let cases: [&[u8]; 12] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
        ];
        for raw in cases {
            assert!(parse_complete(raw, 1000).is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn body_over_the_cap_is_refused_without_buffering_it() {
        let mut p = ResponseParser::new(10);
        p.feed(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert!(p.feed(&[b'x'; 11]).is_err());
        let mut p = ResponseParser::new(10);
        assert!(p.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n").is_err());
    }

    #[test]
    fn head_over_the_cap_is_refused() {
        let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b"X-Junk: aaaaaaaaaaaaaaaaaaaa\r\n".iter().copied(), 1000).flatten());
        assert!(parse_complete(&raw, 10).is_err());
    }

    #[test]
    fn redirect_is_reported_not_followed() {
        let r = parse_complete(b"HTTP/1.1 302 Found\r\nLocation: http://10.0.0.9/x\r\nContent-Length: 0\r\n\r\n", 10).unwrap();
        assert_eq!((r.status, r.location.as_deref()), (302, Some("http://10.0.0.9/x")));
    }
}
