//! The little JSON the library reads back: one flat object per line (the crash journal, written
//! by `crate::json`), whose values are strings or non-negative integers. Anything else is refused.

use super::ParseError;

/// A value of a flat JSON object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string, escapes resolved.
    Str(String),
    /// A non-negative integer.
    Int(u64),
}

/// One flat object, `{"key": "text", "n": 12}`, as its fields in order. Nested objects,
/// arrays, floats, negative numbers, booleans and null are refused: the journal has none.
pub fn parse_flat_object(text: &str) -> Result<Vec<(String, Value)>, ParseError> {
    let mut p = Cursor { s: text.as_bytes(), i: 0 };
    let mut fields = Vec::new();
    p.skip_ws();
    p.expect(b'{')?;
    p.skip_ws();
    if p.eat(b'}') {
        return p.end(fields);
    }
    loop {
        p.skip_ws();
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        let value = match p.peek() {
            Some(b'"') => Value::Str(p.string()?),
            Some(b'0'..=b'9') => Value::Int(p.integer()?),
            _ => return Err(ParseError::new(format!("JSON: unsupported value for \"{key}\" at byte {}", p.i))),
        };
        fields.push((key, value));
        p.skip_ws();
        if p.eat(b',') {
            continue;
        }
        p.expect(b'}')?;
        return p.end(fields);
    }
}

/// The string field `key` of parsed fields.
pub fn str_field<'a>(fields: &'a [(String, Value)], key: &str) -> Option<&'a str> {
    fields.iter().find_map(|(k, v)| match v {
        Value::Str(s) if k == key => Some(s.as_str()),
        _ => None,
    })
}

/// The integer field `key` of parsed fields.
pub fn int_field(fields: &[(String, Value)], key: &str) -> Option<u64> {
    fields.iter().find_map(|(k, v)| match v {
        Value::Int(n) if k == key => Some(*n),
        _ => None,
    })
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += hit as usize;
        hit
    }
    fn expect(&mut self, c: u8) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(ParseError::new(format!("JSON: expected '{}' at byte {}", c as char, self.i)))
        }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }
    fn end(mut self, fields: Vec<(String, Value)>) -> Result<Vec<(String, Value)>, ParseError> {
        self.skip_ws();
        if self.i != self.s.len() {
            return Err(ParseError::new(format!("JSON: text after the object at byte {}", self.i)));
        }
        Ok(fields)
    }
    fn integer(&mut self) -> Result<u64, ParseError> {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        if (digits.len() > 1 && digits.starts_with('0')) || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(ParseError::new(format!("JSON: not a plain integer at byte {start}")));
        }
        digits.parse().map_err(|_| ParseError::new(format!("JSON: integer out of range at byte {start}")))
    }
    fn hex4(&mut self) -> Result<u32, ParseError> {
        let hex = self.s.get(self.i..self.i + 4).and_then(|h| std::str::from_utf8(h).ok()).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        let value = hex.and_then(|h| u32::from_str_radix(h, 16).ok()).ok_or_else(|| ParseError::new(format!("JSON: bad \\u escape at byte {}", self.i)))?;
        self.i += 4;
        Ok(value)
    }
    fn string(&mut self) -> Result<String, ParseError> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else { return Err(ParseError::new("JSON: unterminated string")) };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else { return Err(ParseError::new("JSON: unterminated escape")) };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let first = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&first) && self.s[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let second = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&second) {
                                    return Err(ParseError::new("JSON: unpaired surrogate"));
                                }
                                0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                            } else {
                                first
                            };
                            char::from_u32(code).ok_or_else(|| ParseError::new("JSON: unpaired surrogate"))?
                        }
                        _ => return Err(ParseError::new(format!("JSON: unknown escape at byte {}", self.i - 1))),
                    };
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                c if c < 0x20 => return Err(ParseError::new(format!("JSON: control character in a string at byte {}", self.i - 1))),
                c => out.push(c),
            }
        }
        // The input is a &str and escapes add whole characters: always UTF-8.
        String::from_utf8(out).map_err(|_| ParseError::new("JSON: string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Json;

    #[test]
    fn reads_what_the_json_writer_writes() {
        let tricky = "quote \" backslash \\ tab \t newline \n bell \u{7} é 🎮";
        let line = format!("{{\"a\":{},\"n\":65535, \"z\" : \"\"}}", Json::s(tricky).line());
        let fields = parse_flat_object(&line).unwrap();
        assert_eq!(str_field(&fields, "a"), Some(tricky));
        assert_eq!(int_field(&fields, "n"), Some(65535));
        assert_eq!(str_field(&fields, "z"), Some(""));
        assert_eq!(parse_flat_object(" { } ").unwrap(), vec![]);
        let escaped = parse_flat_object(r#"{"s":"\u00e9\ud83c\udfae\/"}"#).unwrap();
        assert_eq!(str_field(&escaped, "s"), Some("é🎮/"));
    }

    #[test]
    fn refuses_what_the_journal_never_holds() {
        for bad in [
            "",
            "{",
            "{\"a\":1,}",
            "{\"a\":-1}",
            "{\"a\":1.5}",
            "{\"a\":01}",
            "{\"a\":99999999999999999999}",
            "{\"a\":true}",
            "{\"a\":null}",
            "{\"a\":{}}",
            "{\"a\":[]}",
            "{\"a\":\"x}",
            "{\"a\":\"\\q\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\ud800\\u0041\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"line\nbreak\"}",
            "{\"a\":1} x",
            "{a:1}",
        ] {
            assert!(parse_flat_object(bad).is_err(), "{bad:?}");
        }
    }
}
