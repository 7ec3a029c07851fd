//! Printing results: JSON with `--json`, aligned `key: value` lines otherwise.

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
        let shown = match v {
            Value::String(s) => s.clone(),
            Value::Null => "-".to_owned(),
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map(str::to_owned).unwrap_or_else(|| x.to_string()))
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        };
        println!("{k:width$}  {shown}");
    }
}
