//! Printing results: JSON with `--json`, aligned `key: value` lines otherwise.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// The outcome of a command that changes something and has nothing to show: `value`
/// on standard output with `--json`, else `message` on standard error.
pub fn done(message: &str, value: Value, json: bool) {
    if json {
        println!("{value}");
    } else {
        eprintln!("{message}");
    }
}

pub fn print(value: &Value, json: bool) {
    if json {
        println!("{value}");
        return;
    }
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                print_object(item);
            }
        }
        other => print_object(other),
    }
}

fn print_object(value: &Value) {
    let Value::Object(map) = value else {
        println!("{value}");
        return;
    };
    let width = map.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in map {
        println!("{k:width$}  {}", shown(v));
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned).unwrap_or_else(|| x.to_string()))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// Sections printed in the order given (serde_json's maps sort their keys): with
/// `--json` one object whose keys keep that order, else each section's lines in turn,
/// a nested object's members as `section.member`.
pub fn print_ordered(sections: &[(&str, Value)], json: bool) {
    if json {
        println!("{}", serde_json::to_string(&Ordered(sections)).unwrap_or_default());
        return;
    }
    let mut lines = Vec::new();
    for (name, value) in sections {
        match value {
            Value::Object(map) if !name.is_empty() => {
                lines.extend(map.iter().map(|(k, v)| (format!("{name}.{k}"), shown(v))));
            }
            Value::Object(map) => lines.extend(map.iter().map(|(k, v)| (k.clone(), shown(v)))),
            other => lines.push(((*name).to_owned(), shown(other))),
        }
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in lines {
        println!("{k:width$}  {v}");
    }
}

/// An object's members in the order given; an unnamed object section is merged in.
struct Ordered<'a>(&'a [(&'a str, Value)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (name, value) in self.0 {
            match value {
                Value::Object(members) if name.is_empty() => {
                    for (k, v) in members {
                        map.serialize_entry(k, v)?;
                    }
                }
                other => map.serialize_entry(name, other)?,
            }
        }
        map.end()
    }
}
