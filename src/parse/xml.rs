//! Guarded XML parsing: refuse DTDs and entities, bound nesting depth and node count *before*
//! roxmltree sees the text (it recurses per nesting level), then small lookup helpers.

use super::ParseError;
use crate::limits::{XML_MAX_DEPTH, XML_MAX_NODES};

/// Parse `text` into a document after the safety checks.
pub fn parse_guarded(text: &str) -> Result<roxmltree::Document<'_>, ParseError> {
    check_no_dtd(text)?;
    check_depth(text, XML_MAX_DEPTH)?;
    let options = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: XML_MAX_NODES, ..Default::default() };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| ParseError::new(format!("XML: {e}")))
}

fn check_no_dtd(text: &str) -> Result<(), ParseError> {
    let bytes = text.as_bytes();
    for window in bytes.windows(9) {
        if window[0] == b'<' && window[1] == b'!' && (window[2..].eq_ignore_ascii_case(b"DOCTYPE") || window[2..9].eq_ignore_ascii_case(b"ENTITY ")) {
            return Err(ParseError::new("XML with a DOCTYPE or ENTITY declaration is refused"));
        }
    }
    Ok(())
}

/// Nesting depth of the elements, counted on the raw text: +1 per start tag, -1 per end tag or
/// per start tag closed by "/>". Comments, CDATA, processing instructions and quoted attribute
/// values are skipped, so a "/>" in text, a comment or an attribute cannot hide a level (it
/// used to: `<a>/>` repeated passed any depth to roxmltree). It may overcount, never undercount.
fn check_depth(text: &str, max: usize) -> Result<(), ParseError> {
    let b = text.as_bytes();
    let find = |from: usize, pat: &[u8]| b.get(from..).and_then(|rest| rest.windows(pat.len()).position(|w| w == pat)).map(|i| from + i + pat.len());
    let mut depth: usize = 0;
    let mut i = 0;
    while let Some(lt) = b.get(i..).and_then(|rest| rest.iter().position(|&c| c == b'<')).map(|p| i + p) {
        let rest = &b[lt..];
        // Where the construct ends (just past it); None when unterminated, which roxmltree refuses.
        let end = if rest.starts_with(b"<!--") {
            find(lt + 4, b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            find(lt + 9, b"]]>")
        } else if rest.starts_with(b"<?") {
            find(lt + 2, b"?>")
        } else if rest.starts_with(b"<!") {
            find(lt + 2, b">")
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            find(lt + 2, b">")
        } else {
            depth += 1;
            if depth > max {
                return Err(ParseError::new(format!("XML nesting deeper than {max}")));
            }
            // Scan the start tag to its '>', skipping quoted attribute values.
            let mut j = lt + 1;
            let mut quote: Option<u8> = None;
            loop {
                match (b.get(j), quote) {
                    (None, _) => break None,
                    (Some(&c), Some(q)) if c == q => quote = None,
                    (Some(_), Some(_)) => {}
                    (Some(&c), None) if c == b'"' || c == b'\'' => quote = Some(c),
                    (Some(b'>'), None) => {
                        if b[j - 1] == b'/' {
                            depth -= 1;
                        }
                        break Some(j + 1);
                    }
                    (Some(_), None) => {}
                }
                j += 1;
            }
        };
        match end {
            Some(e) => i = e,
            None => break,
        }
    }
    Ok(())
}

/// The text of the first child element named `name` (local name, any namespace), trimmed.
pub fn child_text<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name).map(|c| c.text().unwrap_or("").trim())
}

/// First descendant element (or the node itself) with this local name.
pub fn find_descendant<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.descendants().find(|n| n.is_element() && n.tag_name().name() == name)
}

/// Escape text for an XML element body or attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dtd_and_entities() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>"#;
        assert!(parse_guarded(laughs).is_err());
        let xxe = r#"<?xml version="1.0"?><!doctype a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert!(parse_guarded(xxe).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing_even_on_a_small_stack() {
        let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
        // 64 KiB of stack: roxmltree alone would overflow it on this input.
        let result = std::thread::Builder::new().stack_size(64 * 1024).spawn(move || parse_guarded(&deep).is_err()).unwrap().join().unwrap();
        assert!(result);
    }

    #[test]
    fn slash_gt_in_text_attributes_or_comments_does_not_hide_nesting() {
        let n = 100;
        for level in ["<a>/>", "<a x=\"/>\">", "<a y='/>'>", "<a><!-- /> -->", "<a><![CDATA[/>]]>", "<a><?pi />?>"] {
            let doc = level.repeat(n) + &"</a>".repeat(n);
            let e = parse_guarded(&doc).expect_err(level);
            assert!(e.0.contains("nesting"), "{level}: {e}");
        }
        // Self-closing elements and a '>' inside an attribute value are counted right.
        let flat = format!("<r>{}</r>", "<a x='>'/><b/>".repeat(1000));
        assert!(parse_guarded(&flat).is_ok());
        let at_limit = "<a>".repeat(XML_MAX_DEPTH) + &"</a>".repeat(XML_MAX_DEPTH);
        assert!(parse_guarded(&at_limit).is_ok());
        let over = "<a>".repeat(XML_MAX_DEPTH + 1) + &"</a>".repeat(XML_MAX_DEPTH + 1);
        assert!(parse_guarded(&over).is_err());
    }

    #[test]
    fn accepts_ordinary_documents() {
        let doc = parse_guarded("<?xml version=\"1.0\"?><r xmlns=\"urn:x\"><a>  1 </a><b/></r>").unwrap();
        assert_eq!(child_text(doc.root_element(), "a"), Some("1"));
        assert_eq!(escape("a<b&\"c'"), "a&lt;b&amp;&quot;c&apos;");
    }
}
