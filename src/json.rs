//! The one JSON writer: a value built in code and written compact, for the check report, the
//! C API's `report_json` and the CLI's `--json` lines. A fixed, small shape each time: not
//! worth a dependency.

use std::fmt::Write;

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// Written as an integer when it is one, else with three decimals.
    Num(f64),
    Str(String),
    /// Keys in the order given.
    Obj(Vec<(&'static str, Json)>),
    Arr(Vec<Json>),
}

impl Json {
    pub fn s(text: impl Into<String>) -> Json {
        Json::Str(text.into())
    }
    /// `f(v)`, or null.
    pub fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Json) -> Json {
        v.map(f).unwrap_or(Json::Null)
    }
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                let _ = write!(out, "{}", *n as i64);
            }
            Json::Num(n) => {
                let _ = write!(out, "{n:.3}");
            }
            Json::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(out, "\\u{:04x}", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    Json::s(*k).write(out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
        }
    }
    /// The value as one line of compact JSON.
    pub fn line(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn values_are_written_compact_with_text_escaped() {
        let v = Json::Obj(vec![
            ("a", Json::Num(3600.0)),
            ("b", Json::Num(1.5)),
            ("c", Json::s("q\"\\\n\u{1}")),
            ("d", Json::Arr(vec![Json::Null, Json::Bool(true)])),
            ("e", Json::opt(None::<u8>, |n| Json::Num(n.into()))),
        ]);
        assert_eq!(v.line(), r#"{"a":3600,"b":1.500,"c":"q\"\\\n\u0001","d":[null,true],"e":null}"#);
    }
}
