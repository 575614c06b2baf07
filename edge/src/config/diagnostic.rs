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
    pub message: String,
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
}
