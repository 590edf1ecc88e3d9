//! Guarded XML parsing: refuse DTDs and entities, bound nesting depth, attributes per element,
//! namespace declarations and node count *before* roxmltree sees the text (it recurses per
//! level; attributes and namespaces cost it more than linear time), then small lookup helpers.

use super::ParseError;
use crate::limits::{XML_MAX_ATTRIBUTES, XML_MAX_DEPTH, XML_MAX_NAMESPACES, XML_MAX_NAMESPACES_PER_ELEMENT, XML_MAX_NODES};

/// Parse `text` into a document after the safety checks.
pub fn parse_guarded(text: &str) -> Result<roxmltree::Document<'_>, ParseError> {
    check_no_dtd(text)?;
    prescan(text)?;
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

/// Bounds what makes roxmltree slow or deep, counted on the raw text before it sees it: the
/// nesting depth (it recurses per level), the attributes of each element (it compares each with
/// the element's earlier ones), and namespace declarations per element and per document (it
/// copies every namespace in scope into each element that declares one). Thousands of
/// declarations in 62 KB took 34 s before this (issue 19); within the caps the worst document
/// of the largest accepted size parses in milliseconds (see the tests).
///
/// Depth: +1 per start tag, -1 per end tag or per start tag closed by "/>". Comments, CDATA,
/// processing instructions and quoted attribute values are skipped, so a "/>" in text, a
/// comment or an attribute cannot hide a level (it used to: `<a>/>` repeated passed any depth
/// to roxmltree). Attributes: each '=' outside quotes in a start tag; a namespace declaration:
/// an attribute name `xmlns` or `xmlns:*`. Every count may overcount, never undercount.
fn prescan(text: &str) -> Result<(), ParseError> {
    let b = text.as_bytes();
    let find = |from: usize, pat: &[u8]| b.get(from..).and_then(|rest| rest.windows(pat.len()).position(|w| w == pat)).map(|i| from + i + pat.len());
    let mut depth: usize = 0;
    let mut namespaces: usize = 0;
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
            if depth > XML_MAX_DEPTH {
                return Err(ParseError::new(format!("XML nesting deeper than {XML_MAX_DEPTH}")));
            }
            let tag = start_tag(b, lt + 1);
            if tag.namespaces > XML_MAX_NAMESPACES_PER_ELEMENT {
                return Err(ParseError::new(format!("XML element with more than {XML_MAX_NAMESPACES_PER_ELEMENT} namespace declarations")));
            }
            if tag.attributes > XML_MAX_ATTRIBUTES {
                return Err(ParseError::new(format!("XML element with more than {XML_MAX_ATTRIBUTES} attributes")));
            }
            namespaces += tag.namespaces;
            if namespaces > XML_MAX_NAMESPACES {
                return Err(ParseError::new(format!("XML document with more than {XML_MAX_NAMESPACES} namespace declarations")));
            }
            if tag.self_closing {
                depth -= 1;
            }
            tag.end
        };
        match end {
            Some(e) => i = e,
            None => break,
        }
    }
    Ok(())
}

/// What the pre-scan counts in one start tag.
struct StartTag {
    /// Just past its '>'; None when the tag is unterminated (roxmltree refuses it).
    end: Option<usize>,
    self_closing: bool,
    attributes: usize,
    namespaces: usize,
}

/// Scans the start tag whose name begins at `from` to its '>', skipping quoted attribute values.
fn start_tag(b: &[u8], from: usize) -> StartTag {
    let mut tag = StartTag { end: None, self_closing: false, attributes: 0, namespaces: 0 };
    let mut quote: Option<u8> = None;
    for j in from..b.len() {
        let c = b[j];
        match quote {
            Some(q) if c == q => {
                quote = None;
                // Counted even without the whitespace XML requires here: never undercount.
                tag.namespaces += is_namespace_declaration(&b[j + 1..]) as usize;
            }
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'=' => tag.attributes += 1,
            None if c == b'>' => {
                tag.self_closing = b[j - 1] == b'/';
                tag.end = Some(j + 1);
                break;
            }
            None if c.is_ascii_whitespace() && is_namespace_declaration(&b[j + 1..]) => tag.namespaces += 1,
            None => {}
        }
    }
    tag
}

/// Whether an attribute starting here is named `xmlns` or `xmlns:*`.
fn is_namespace_declaration(attribute: &[u8]) -> bool {
    attribute.starts_with(b"xmlns") && matches!(attribute.get(5), Some(b':' | b'=' | b' ' | b'\t' | b'\r' | b'\n'))
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

    /// Parses (or refuses) `doc` and says how long it took.
    fn timed(doc: &str) -> (bool, std::time::Duration) {
        let started = std::time::Instant::now();
        let ok = parse_guarded(doc).is_ok();
        (ok, started.elapsed())
    }

    #[test]
    fn the_description_of_thousands_of_namespace_declarations_is_refused_in_milliseconds() {
        // The shape that stalled discovery for 34 s: 2000 declarations on the root, then
        // children that each declare one more, so each child copies the root's 2000.
        let declarations: String = (0..2000).map(|i| format!(" xmlns:n{i:04}='u'")).collect();
        let doc = format!("<r{declarations}>{}</r>", "<c xmlns:m='u'/>".repeat(1800));
        assert!(doc.len() <= crate::limits::DESCRIPTION_BODY_MAX, "{}", doc.len());
        let (ok, took) = timed(&doc);
        eprintln!("{} bytes, 2000 + 1800 declarations: refused in {took:?}", doc.len());
        assert!(!ok);
        assert!(took.as_millis() < 50, "{took:?}");
        let e = parse_guarded(&doc).unwrap_err();
        assert!(e.0.contains("namespace declarations"), "{e}");
    }

    #[test]
    fn namespace_declarations_spread_one_per_element_are_refused_past_the_document_cap() {
        let doc = format!("<r>{}</r>", "<c xmlns:m='u'/>".repeat(XML_MAX_NAMESPACES + 1));
        let e = parse_guarded(&doc).unwrap_err();
        assert!(e.0.contains("namespace declarations"), "{e}");
        let doc = format!("<r>{}</r>", "<c xmlns:m='u'/>".repeat(XML_MAX_NAMESPACES));
        assert!(parse_guarded(&doc).is_ok());
    }

    #[test]
    fn an_element_with_too_many_attributes_is_refused_in_milliseconds() {
        // 10^4 attributes on one element: roxmltree checks each against all earlier ones.
        let attributes: String = (0..10_000).map(|i| format!(" a{i}=''")).collect();
        let doc = format!("<r{attributes}/>");
        let (ok, took) = timed(&doc);
        assert!(!ok);
        assert!(took.as_millis() < 50, "{took:?}");
        let e = parse_guarded(&doc).unwrap_err();
        assert!(e.0.contains("attributes"), "{e}");
        // A '=' inside a quoted value is not an attribute; at the cap it parses.
        let attributes: String = (0..XML_MAX_ATTRIBUTES).map(|i| format!(" a{i}='x=y'")).collect();
        assert!(parse_guarded(&format!("<r{attributes}/>")).is_ok());
        let per_element: String = (0..=XML_MAX_NAMESPACES_PER_ELEMENT).map(|i| format!(" xmlns:n{i}='u'")).collect();
        assert!(parse_guarded(&format!("<r{per_element}/>")).unwrap_err().0.contains("namespace declarations"));
        // Declarations glued to the previous value, or separated by other whitespace, count too.
        let glued: String = (0..=XML_MAX_NAMESPACES_PER_ELEMENT).map(|i| format!("xmlns:n{i}='u'\n\t")).collect();
        assert!(parse_guarded(&format!("<r a=''{glued}/>")).unwrap_err().0.contains("namespace declarations"));
    }

    /// The worst documents the caps still let through, at the largest body accepted (a
    /// description): each parses in a few milliseconds, far inside any call's budget
    /// (`DEFAULT_ACTION_TIMEOUT`, 3 s; the tightest a caller sets is tens of ms).
    #[test]
    fn the_worst_documents_under_the_caps_parse_in_milliseconds() {
        let max = crate::limits::DESCRIPTION_BODY_MAX;
        let fill = |head: String, unit: &str, tail: &str| {
            let n = (max - head.len() - tail.len()) / unit.len();
            format!("{head}{}{tail}", unit.repeat(n))
        };
        let per = XML_MAX_NAMESPACES_PER_ELEMENT;
        // Namespaces nested as deep as the document cap allows, then every element resolving a
        // prefix against all of them, and the last declarations on leaves that copy them all.
        let levels = XML_MAX_NAMESPACES / per - 1;
        let mut head = String::new();
        for level in 0..levels {
            let decls: String = (0..per).map(|i| format!(" xmlns:p{level}x{i}='urn:{level}:{i}'")).collect();
            head.push_str(&format!("<e{decls}>"));
        }
        let leaves: String = (0..per).map(|i| format!("<l xmlns:q{i}='u'/>")).collect();
        let tail = format!("{leaves}{}", "</e>".repeat(levels));
        let deep_namespaces = fill(head, "<p0x0:z p0x0:a='1' p0x1:b='2'/>", &tail);
        // As many attributes per element as allowed, every element.
        let attributes: String = (0..XML_MAX_ATTRIBUTES).map(|i| format!(" a{i}=''")).collect();
        let wide = fill("<r>".into(), &format!("<e{attributes}/>"), "</r>");
        // As many elements as the node cap allows; as deep as the depth cap allows.
        let many = fill("<r>".into(), "<e/>", "</r>");
        let deep = fill("<r>".to_string() + &"<e>".repeat(XML_MAX_DEPTH - 2), "<e/>", &format!("{}</r>", "</e>".repeat(XML_MAX_DEPTH - 2)));
        for (name, doc) in [("deep namespaces", &deep_namespaces), ("wide", &wide), ("many", &many), ("deep", &deep)] {
            assert!(doc.len() <= max && doc.len() > max - 200, "{name}: {}", doc.len());
            let (_, took) = timed(doc);
            eprintln!("{name}: {} bytes in {took:?}", doc.len());
            assert!(took.as_millis() < 100, "{name}: {took:?}");
        }
        assert!(parse_guarded(&deep_namespaces).is_ok() && parse_guarded(&wide).is_ok() && parse_guarded(&deep).is_ok());
    }

    #[test]
    fn accepts_ordinary_documents() {
        let doc = parse_guarded("<?xml version=\"1.0\"?><r xmlns=\"urn:x\"><a>  1 </a><b/></r>").unwrap();
        assert_eq!(child_text(doc.root_element(), "a"), Some("1"));
        assert_eq!(escape("a<b&\"c'"), "a&lt;b&amp;&quot;c&apos;");
    }
}
