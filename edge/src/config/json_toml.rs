//! JSON values as TOML values: integers stay integers, objects become inline tables, and a value
//! that replaces another keeps the old one's look (spacing, trailing comment, comments in arrays).

use serde_json::{Map, Value as Json};
use toml_edit::{Array, InlineTable, Value};

/// Keys that lead a new table, in this order, as in `steward.example.toml`; the rest follow in
/// the order given.
const LEADING_KEYS: [&str; 17] = [
    "kind",
    "id",
    "name",
    "gb28181_id",
    "url",
    "hmac_secret",
    "analysis_fps",
    "decode",
    "transport",
    "stall_s",
    "retry_max_s",
    "pace",
    "loop",
    "clip_s",
    "timeout_s",
    "polygon",
    "rules",
];

/// The entries of `map`, leading keys first (a new table reads like a hand-written one).
pub fn ordered(map: &Map<String, Json>) -> Vec<(&str, &Json)> {
    let leading = LEADING_KEYS.iter().filter_map(|key| map.get_key_value(*key));
    let rest = map.iter().filter(|(key, _)| !LEADING_KEYS.contains(&key.as_str()));
    leading.chain(rest).map(|(key, value)| (key.as_str(), value)).collect()
}

/// A JSON value with no TOML form; `at` is where, below the converted value (`[2]`, `.x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrepresentable {
    pub at: String,
    pub message: String,
}

/// The TOML form of `json`; `None` for `null`, which means "remove the key".
pub fn to_toml(json: &Json) -> Result<Option<Value>, Unrepresentable> {
    if json.is_null() {
        return Ok(None);
    }
    convert(json, "").map(Some)
}

fn convert(json: &Json, at: &str) -> Result<Value, Unrepresentable> {
    let refuse = |message: &str| Err(Unrepresentable { at: at.to_string(), message: message.to_string() });
    Ok(match json {
        Json::Null => return refuse("null can only stand for a whole value (it removes the key)"),
        Json::Bool(flag) => Value::from(*flag),
        Json::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(whole), _) => Value::from(whole),
            _ if number.is_u64() => return refuse("the number is too large: TOML integers go up to 9223372036854775807"),
            (None, Some(float)) => Value::from(float),
            (None, None) => return refuse("the number cannot be written in TOML"),
        },
        Json::String(text) => Value::from(text.as_str()),
        Json::Array(items) => {
            let mut array = Array::new();
            for (index, item) in items.iter().enumerate() {
                array.push(convert(item, &format!("{at}[{index}]"))?);
            }
            Value::Array(array)
        }
        Json::Object(map) => {
            let mut table = InlineTable::new();
            for (key, item) in ordered(map).into_iter().filter(|(_, item)| !item.is_null()) {
                table.insert(key, convert(item, &format!("{at}.{key}"))?);
            }
            Value::InlineTable(table)
        }
    })
}

/// Gives `new` the look of `old`, the value it replaces: the spacing and trailing comment around
/// it, and inside arrays and inline tables the look of the elements it still has.
pub fn keep_look(new: &mut Value, old: &Value) {
    if same_scalar(new, old) {
        // Equal: keep it as written (`0.80` stays `0.80`, a literal string stays literal).
        *new = old.clone();
        return;
    }
    *new.decor_mut() = old.decor().clone();
    match (new, old) {
        (Value::Array(new), Value::Array(old)) => keep_array_look(new, old),
        (Value::InlineTable(new), Value::InlineTable(old)) => {
            let same_keys = new.len() == old.len() && new.iter().zip(old.iter()).all(|((a, _), (b, _))| a == b);
            if !same_keys {
                return;
            }
            new.set_preamble(old.preamble().clone());
            for (mut key, value) in new.iter_mut() {
                if let Some((old_key, old_value)) = old.key(key.get()).zip(old.get(key.get())) {
                    *key.leaf_decor_mut() = old_key.leaf_decor().clone();
                    keep_look(value, old_value);
                }
            }
        }
        _ => {}
    }
}

fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.value() == b.value(),
        (Value::Integer(a), Value::Integer(b)) => a.value() == b.value(),
        (Value::Float(a), Value::Float(b)) => a.value() == b.value(),
        (Value::Boolean(a), Value::Boolean(b)) => a.value() == b.value(),
        _ => false,
    }
}

fn keep_array_look(new: &mut Array, old: &Array) {
    // A multi-line array: further elements go on their own lines, indented like the last one.
    let indent = old
        .iter()
        .last()
        .and_then(|last| last.decor().prefix())
        .and_then(|prefix| prefix.as_str())
        .and_then(|prefix| prefix.rfind('\n').map(|at| prefix[at..].to_string()));
    for (index, value) in new.iter_mut().enumerate() {
        match old.get(index) {
            Some(old_value) => keep_look(value, old_value),
            None => {
                if let Some(indent) = &indent {
                    value.decor_mut().set_prefix(indent.clone());
                }
            }
        }
    }
    // The old last element's suffix is the space before `]` (or before the trailing comma):
    // it belongs to whichever element is last now.
    if new.len() != old.len()
        && let Some(old_last) = old.iter().last()
        && !new.is_empty()
    {
        let suffix = old_last.decor().suffix().cloned();
        if let Some(was_last) = new.get_mut(old.len() - 1) {
            was_last.decor_mut().set_suffix("");
        }
        let last = new.len() - 1;
        let now_last = new.get_mut(last).expect("not empty");
        match suffix {
            Some(suffix) => now_last.decor_mut().set_suffix(suffix),
            None => now_last.decor_mut().set_suffix(""),
        }
    }
    new.set_trailing(old.trailing().clone());
    new.set_trailing_comma(old.trailing_comma() && !new.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use toml_edit::DocumentMut;

    fn replaced(text: &str, json: Json) -> String {
        let mut doc: DocumentMut = text.parse().unwrap();
        let item = doc.get_mut("v").unwrap().as_value_mut().unwrap();
        let mut new = to_toml(&json).unwrap().unwrap();
        keep_look(&mut new, item);
        *item = new;
        doc.to_string()
    }

    #[test]
    fn numbers_keep_their_kind_and_objects_become_inline_tables() {
        let value = to_toml(&json!({ "a": 1, "b": 2.5, "c": "x", "d": [true, false], "e": { "f": 2.0 }, "g": null })).unwrap().unwrap();
        assert_eq!(value.to_string(), r#"{ a = 1, b = 2.5, c = "x", d = [true, false], e = { f = 2.0 } }"#);
        assert!(to_toml(&Json::Null).unwrap().is_none());
        assert_eq!(to_toml(&json!([1, null])).unwrap_err().at, "[1]");
        assert_eq!(to_toml(&json!({ "n": u64::MAX })).unwrap_err().at, ".n");
        let rule = to_toml(&json!({ "dwell_s": 20, "kind": "illegal_parking" })).unwrap().unwrap();
        assert_eq!(rule.to_string(), r#"{ kind = "illegal_parking", dwell_s = 20 }"#);
    }

    #[test]
    fn a_replaced_value_keeps_its_trailing_comment() {
        assert_eq!(replaced("v = 1.0          # fps\n", json!(2)), "v = 2          # fps\n");
        assert_eq!(replaced("v = [0.80, 0.00] # xy\n", json!([0.8, 0.1])), "v = [0.80, 0.1] # xy\n");
        assert_eq!(replaced("v = 'lit'\n", json!("lit")), "v = 'lit'\n");
    }

    #[test]
    fn a_replaced_multiline_array_keeps_its_comments_and_indentation() {
        let text = "v = [\n  # the first\n  { kind = \"a\", dwell_s = 3 },\n]\n";
        let shown = replaced(text, json!([{ "kind": "a", "dwell_s": 5 }, { "kind": "b" }]));
        assert_eq!(shown, "v = [\n  # the first\n  { kind = \"a\", dwell_s = 5 },\n  { kind = \"b\" },\n]\n");
        let shorter = replaced("v = [ 1, 2, 3 ]\n", json!([7, 8]));
        assert_eq!(shorter, "v = [ 7, 8 ]\n");
        let longer = replaced("v = [ 1, 2 ]\n", json!([7, 8, 9]));
        assert_eq!(longer, "v = [ 7, 8, 9 ]\n");
    }
}
