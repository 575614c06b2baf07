//! Config problems with their place in the file: `file:line:col: message`.
//!
//! Validation speaks of places as paths in the tree (`camera[0].zone[1].polygon`); this module
//! finds the path in the parsed document and turns its byte span into a line and column.

use std::fmt;
use std::ops::Range;

use toml_edit::{Document, Item, Table, Value};

/// One step of a path into the config tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Where in the tree a problem lies, and whether it is about the key itself (an unknown key)
/// or its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreePath(pub Vec<Segment>);

impl TreePath {
    pub fn root() -> Self {
        TreePath(Vec::new())
    }
    pub fn key(&self, key: &str) -> Self {
        let mut next = self.0.clone();
        next.push(Segment::Key(key.to_string()));
        TreePath(next)
    }
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.0.clone();
        next.push(Segment::Index(index));
        TreePath(next)
    }
}

impl fmt::Display for TreePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.0 {
            match segment {
                Segment::Key(key) if first => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line and column, when the place could be found.
    pub line_col: Option<(usize, usize)>,
    /// Where in the tree the problem lies (`camera[0].zone[1].rules[0].dwell_s`), when known.
    pub path: Option<String>,
    pub message: String,
}

impl ConfigError {
    /// The problem's path relative to `scope` (`camera[2].zone[1]` and
    /// `camera[2].zone[1].rules[0].dwell_s` give `rules[0].dwell_s`); `None` when the problem is
    /// not strictly inside `scope`. An empty scope is the whole tree.
    pub fn field_under(&self, scope: &str) -> Option<String> {
        let path = self.path.as_deref()?;
        if scope.is_empty() {
            return (!path.is_empty()).then(|| path.to_string());
        }
        let rest = path.strip_prefix(scope)?;
        if let Some(field) = rest.strip_prefix('.') {
            return (!field.is_empty()).then(|| field.to_string());
        }
        (rest.starts_with('[') && rest.len() > 1).then(|| rest.to_string())
    }
}

/// Every problem found in one config file, in file order.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub file: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, error) in self.errors.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            match error.line_col {
                Some((line, col)) => write!(f, "{}:{}:{}: {}", self.file, line, col, error.message)?,
                None => write!(f, "{}: {}", self.file, error.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// What a problem is about: a key that should not be there, or a value that is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aim {
    Key,
    Value,
}

/// Turns a byte offset into a 1-based (line, column), counting columns in characters.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Finds the byte span of `path` in `doc`. Falls back to the nearest enclosing node that has a
/// span, so an error always points somewhere useful.
pub fn span_of(doc: &Document<&str>, path: &TreePath, aim: Aim) -> Option<Range<usize>> {
    enum Node<'a> {
        Table(&'a Table),
        Item(&'a Item),
        Value(&'a Value),
    }
    fn own_span(node: &Node<'_>) -> Option<Range<usize>> {
        match node {
            Node::Table(table) => table.span(),
            Node::Item(item) => item.span(),
            Node::Value(value) => value.span(),
        }
    }

    let mut node = Node::Table(doc.as_table());
    let mut best: Option<Range<usize>> = None;
    let last = path.0.len().saturating_sub(1);
    for (depth, segment) in path.0.iter().enumerate() {
        let table = match &node {
            Node::Table(table) => Some(*table),
            Node::Item(Item::Table(table)) => Some(table),
            _ => None,
        };
        let inline = match &node {
            Node::Item(Item::Value(Value::InlineTable(table))) | Node::Value(Value::InlineTable(table)) => Some(table),
            _ => None,
        };
        let next = match segment {
            Segment::Key(key) => {
                let key_span = table.and_then(|t| t.key(key)).or_else(|| inline.and_then(|t| t.key(key))).and_then(|k| k.span());
                if let Some(span) = key_span {
                    best = Some(span);
                    if depth == last && aim == Aim::Key {
                        return best;
                    }
                }
                match (table, inline) {
                    (Some(table), _) => table.get(key).map(Node::Item),
                    (_, Some(inline)) => inline.get(key).map(Node::Value),
                    _ => None,
                }
            }
            Segment::Index(index) => match &node {
                Node::Item(Item::ArrayOfTables(array)) => array.get(*index).map(Node::Table),
                Node::Item(Item::Value(Value::Array(array))) | Node::Value(Value::Array(array)) => array.get(*index).map(Node::Value),
                _ => None,
            },
        };
        match next {
            Some(found) => {
                if let Some(span) = own_span(&found) {
                    best = Some(span);
                }
                node = found;
            }
            None => return best,
        }
    }
    best
}

/// The deepest path in `doc` whose key or value covers byte `offset`: places an error that
/// only has a span (a wrong type) in the tree.
pub fn path_at(doc: &Document<&str>, offset: usize) -> Option<TreePath> {
    fn covers(span: Option<Range<usize>>, offset: usize) -> bool {
        span.is_some_and(|s| s.contains(&offset))
    }
    fn in_value(value: &Value, path: TreePath, offset: usize) -> TreePath {
        match value {
            Value::Array(array) => {
                for (index, element) in array.iter().enumerate() {
                    if covers(element.span(), offset) {
                        return in_value(element, path.index(index), offset);
                    }
                }
            }
            Value::InlineTable(table) => {
                for (key, element) in table.iter() {
                    if covers(element.span(), offset) || covers(table.key(key).and_then(|k| k.span()), offset) {
                        return in_value(element, path.key(key), offset);
                    }
                }
            }
            _ => {}
        }
        path
    }
    fn in_table(table: &Table, path: &TreePath, offset: usize) -> Option<TreePath> {
        for (key, item) in table.iter() {
            let here = path.key(key);
            let found = match item {
                Item::Value(value) if covers(value.span(), offset) || covers(table.key(key).and_then(|k| k.span()), offset) => {
                    Some(in_value(value, here, offset))
                }
                Item::Table(sub) => in_table(sub, &here, offset),
                Item::ArrayOfTables(array) => array.iter().enumerate().find_map(|(index, sub)| in_table(sub, &here.index(index), offset)),
                _ => None,
            };
            if found.is_some() {
                return found;
            }
        }
        covers(table.span(), offset).then(|| path.clone())
    }
    in_table(doc.as_table(), &TreePath::root(), offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "a = 1\nname = \"城市\" x";
        let offset = text.find('x').unwrap();
        assert_eq!(line_col(text, offset), (2, 13));
        assert_eq!(line_col(text, 0), (1, 1));
    }

    #[test]
    fn span_finds_inline_table_keys_inside_arrays_of_tables() {
        let text = "[[camera]]\nid = \"a\"\n[[camera.zone]]\nrules = [{ kind = \"x\", dwel_s = 3 }]\n";
        let doc = Document::parse(text).unwrap();
        let path = TreePath::root().key("camera").index(0).key("zone").index(0).key("rules").index(0).key("dwel_s");
        let span = span_of(&doc, &path, Aim::Key).unwrap();
        assert_eq!(&text[span.clone()], "dwel_s");
        assert_eq!(line_col(text, span.start), (4, 24));
    }

    #[test]
    fn a_span_is_placed_at_the_deepest_key_covering_it() {
        let text = "[[camera]]\nid = \"a\"\n[[camera.zone]]\nrules = [{ kind = \"x\", dwell_s = \"long\" }]\n";
        let doc = Document::parse(text).unwrap();
        let path = path_at(&doc, text.find("\"long\"").unwrap()).unwrap();
        assert_eq!(path.to_string(), "camera[0].zone[0].rules[0].dwell_s");
        assert_eq!(path_at(&doc, text.find("\"a\"").unwrap()).unwrap().to_string(), "camera[0].id");
    }

    #[test]
    fn a_field_is_named_relative_to_its_scope() {
        let error = |path: &str| ConfigError { line_col: None, path: Some(path.to_string()), message: String::new() };
        let dwell = error("camera[2].zone[1].rules[0].dwell_s");
        assert_eq!(dwell.field_under("camera[2].zone[1]").as_deref(), Some("rules[0].dwell_s"));
        assert_eq!(dwell.field_under("camera[2]").as_deref(), Some("zone[1].rules[0].dwell_s"));
        assert_eq!(dwell.field_under("").as_deref(), Some("camera[2].zone[1].rules[0].dwell_s"));
        assert_eq!(dwell.field_under("camera[2].zone[10]"), None);
        assert_eq!(dwell.field_under("camera[2].zone[1].rules[0].dwell_s"), None);
        assert_eq!(error("camera[1].url").field_under("camera[12]"), None);
        assert_eq!(error("camera[1].zone[0].polygon[3]").field_under("camera[1].zone[0].polygon").as_deref(), Some("[3]"));
        assert_eq!(ConfigError { line_col: None, path: None, message: String::new() }.field_under("camera[0]"), None);
    }
}
