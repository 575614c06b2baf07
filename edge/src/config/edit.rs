//! One API change as an edit of the config document: only the keys it names change; comments,
//! key order and formatting of everything else stay as written.

use serde_json::{Map, Value as Json};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

use super::change::{ConfigChange, EditError};
use super::credentials::fold_credentials;
use super::diagnostic::{ConfigError, ConfigErrors};
use super::json_toml::{keep_look, ordered, to_toml};

/// Applies `change` to `doc` (the file `file`). Returns the tree path of the edited item, for
/// placing validation problems relative to it.
pub fn apply_change(doc: &mut DocumentMut, change: ConfigChange, file: &str) -> Result<Option<String>, EditError> {
    let root = doc.as_table_mut();
    match change {
        ConfigChange::AddCamera(mut fields) => {
            let scope = format!("camera[{}]", tables(root, "camera")?.map_or(0, ArrayOfTables::len));
            let place = Place { file, scope: &scope };
            fold_credentials(&mut fields, None).map_err(|(key, why)| place.refuse(&format!("{scope}.{key}"), why))?;
            if let Some(id) = fields.get("id").and_then(Json::as_str)
                && tables(root, "camera")?.is_some_and(|cameras| index_of(cameras, id).is_some())
            {
                return Err(EditError::Conflict(format!("camera `{id}` exists")));
            }
            let camera = new_table(&fields, &scope, &place)?;
            tables_or_new(root, "camera")?.push(camera);
            Ok(Some(scope))
        }
        ConfigChange::UpdateCamera { id, mut fields } => {
            let index = camera_index(root, &id)?;
            let scope = format!("camera[{index}]");
            let place = Place { file, scope: &scope };
            if let Some(new_id) = fields.get("id").and_then(Json::as_str)
                && new_id != id
                && tables(root, "camera")?.is_some_and(|cameras| index_of(cameras, new_id).is_some())
            {
                return Err(EditError::Conflict(format!("camera `{new_id}` exists")));
            }
            let camera = camera_mut(root, index)?;
            let stored = camera.get("url").and_then(Item::as_str).map(str::to_string);
            fold_credentials(&mut fields, stored.as_deref()).map_err(|(key, why)| place.refuse(&format!("{scope}.{key}"), why))?;
            for (key, value) in ordered(&fields) {
                set_field(camera, key, value, &scope, &place)?;
            }
            Ok(Some(scope))
        }
        ConfigChange::RemoveCamera { id } => {
            let index = camera_index(root, &id)?;
            remove_table(root, "camera", index)?;
            Ok(None)
        }
        ConfigChange::PutZone { camera, zone } => {
            let camera_at = camera_index(root, &camera)?;
            let camera_table = camera_mut(root, camera_at)?;
            let zones = tables(camera_table, "zone")?;
            let index = match zone.get("id").and_then(Json::as_str) {
                Some(id) => zones.and_then(|zones| index_of(zones, id)),
                None => None,
            };
            let scope = format!("camera[{camera_at}].zone[{}]", index.unwrap_or(zones.map_or(0, ArrayOfTables::len)));
            let place = Place { file, scope: &scope };
            if !zone.get("id").is_some_and(Json::is_string) {
                return Err(place.refuse(&format!("{scope}.id"), "a zone needs an `id` (text)"));
            }
            match index {
                Some(index) => {
                    let existing = tables_or_new(camera_table, "zone")?.get_mut(index).expect("found above");
                    replace_table(existing, &zone, &scope, &place)?;
                }
                None => {
                    let table = new_table(&zone, &scope, &place)?;
                    tables_or_new(camera_table, "zone")?.push(table);
                }
            }
            Ok(Some(scope))
        }
        ConfigChange::RemoveZone { camera, zone } => {
            let camera_at = camera_index(root, &camera)?;
            let camera_table = camera_mut(root, camera_at)?;
            let index = tables(camera_table, "zone")?
                .and_then(|zones| index_of(zones, &zone))
                .ok_or_else(|| EditError::NotFound(format!("no zone `{zone}` in camera `{camera}`")))?;
            remove_table(camera_table, "zone", index)?;
            Ok(None)
        }
        ConfigChange::SetRuleValue { camera, zone, kind, key, value } => {
            let camera_at = camera_index(root, &camera)?;
            let camera_table = camera_mut(root, camera_at)?;
            let zone_at = tables(camera_table, "zone")?
                .and_then(|zones| index_of(zones, &zone))
                .ok_or_else(|| EditError::NotFound(format!("no zone `{zone}` in camera `{camera}`")))?;
            let zone_table = tables_or_new(camera_table, "zone")?.get_mut(zone_at).expect("found above");
            let no_rule = || EditError::NotFound(format!("no `{kind}` rule in zone `{zone}` of camera `{camera}`"));
            let zone_scope = format!("camera[{camera_at}].zone[{zone_at}]");
            set_rule_value(zone_table, &kind, &key, &value, &zone_scope, file)?.ok_or_else(no_rule).map(Some)
        }
        ConfigChange::PutSink { name, mut fields } => {
            let index = sink_index(root, &name)?;
            let scope = format!("sink[{}]", index.unwrap_or(tables(root, "sink")?.map_or(0, ArrayOfTables::len)));
            let place = Place { file, scope: &scope };
            if fields.get("name").is_some_and(|given| given.as_str() != Some(&name)) {
                return Err(place.refuse(&format!("{scope}.name"), "a sink's name cannot change: it keys the sink's delivery cursor"));
            }
            keep_stored_secrets(&mut fields);
            match index {
                Some(index) => {
                    let sink = tables_or_new(root, "sink")?.get_mut(index).expect("found above");
                    for (key, value) in ordered(&fields) {
                        set_field(sink, key, value, &scope, &place)?;
                    }
                }
                None => {
                    let http = fields.entry("kind").or_insert_with(|| Json::from("http")).as_str() == Some("http");
                    if http && !fields.contains_key("hmac_secret") {
                        return Err(place.refuse(&format!("{scope}.hmac_secret"), "a new sink needs an `hmac_secret`"));
                    }
                    fields.insert("name".to_string(), Json::from(name));
                    let sink = new_table(&fields, &scope, &place)?;
                    tables_or_new(root, "sink")?.push(sink);
                }
            }
            Ok(Some(scope))
        }
        ConfigChange::RemoveSink { name } => {
            let index = sink_index(root, &name)?.ok_or_else(|| EditError::NotFound(format!("no sink `{name}`")))?;
            remove_table(root, "sink", index)?;
            Ok(None)
        }
        ConfigChange::SetCodes(codes) => {
            let place = Place { file, scope: "codes" };
            set_codes(root, &codes, &place)?;
            Ok(Some("codes".to_string()))
        }
    }
}

/// The file and the edited item, for problems found in the input before validation.
struct Place<'a> {
    file: &'a str,
    scope: &'a str,
}

impl Place<'_> {
    /// A problem with the input at tree path `path`, as validation would report it.
    fn refuse(&self, path: &str, message: impl Into<String>) -> EditError {
        let error = ConfigError { line_col: None, path: Some(path.to_string()), message: message.into() };
        EditError::Invalid { errors: ConfigErrors { file: self.file.to_string(), errors: vec![error] }, scope: Some(self.scope.to_string()) }
    }
}

/// The `[[key]]` tables in `table`, if any; Conflict when `key` is written in another form.
fn tables<'t>(table: &'t Table, key: &str) -> Result<Option<&'t ArrayOfTables>, EditError> {
    match table.get(key) {
        None => Ok(None),
        Some(Item::ArrayOfTables(array)) => Ok(Some(array)),
        Some(_) => Err(not_tables(key)),
    }
}

/// The `[[key]]` tables in `table`, created when absent.
fn tables_or_new<'t>(table: &'t mut Table, key: &str) -> Result<&'t mut ArrayOfTables, EditError> {
    table.entry(key).or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new())).as_array_of_tables_mut().ok_or_else(|| not_tables(key))
}

fn not_tables(key: &str) -> EditError {
    EditError::Conflict(format!("`{key}` is not written as [[{key}]] tables in the config file: edit it by hand"))
}

/// Removes the `index`th `[[key]]` table, and the key when none are left.
fn remove_table(table: &mut Table, key: &str, index: usize) -> Result<(), EditError> {
    let array = tables_or_new(table, key)?;
    array.remove(index);
    if array.is_empty() {
        table.remove(key);
    }
    Ok(())
}

/// Where the table whose `id` is `id` is.
fn index_of(array: &ArrayOfTables, id: &str) -> Option<usize> {
    array.iter().position(|table| table.get("id").and_then(Item::as_str) == Some(id))
}

fn camera_index(root: &Table, id: &str) -> Result<usize, EditError> {
    tables(root, "camera")?.and_then(|cameras| index_of(cameras, id)).ok_or_else(|| EditError::NotFound(format!("no camera `{id}`")))
}

fn camera_mut(root: &mut Table, index: usize) -> Result<&mut Table, EditError> {
    Ok(tables_or_new(root, "camera")?.get_mut(index).expect("index found in this document"))
}

/// Where the sink called `name` is; a sink without `name` is called as validation calls it
/// (`http`, then `http-1`, …; the first MQTT sink `mqtt`, later ones `mqtt-<index>`).
fn sink_index(root: &Table, name: &str) -> Result<Option<usize>, EditError> {
    let Some(sinks) = tables(root, "sink")? else { return Ok(None) };
    let kinds: Vec<Option<&str>> = sinks.iter().map(|sink| sink.get("kind").and_then(Item::as_str)).collect();
    let called = |index: usize, table: &Table| match (table.get("name").and_then(Item::as_str), kinds[index]) {
        (Some(name), _) => name.to_string(),
        (None, Some("mqtt")) => super::validate::default_mqtt_name(index, !kinds[..index].contains(&Some("mqtt"))),
        (None, _) if index == 0 => "http".to_string(),
        (None, _) => format!("http-{index}"),
    };
    Ok(sinks.iter().enumerate().position(|(index, sink)| called(index, sink) == name))
}

/// Write-only secrets (`hmac_secret`, MQTT `password`) left empty, null or shown masked (`***`)
/// keep the stored ones: they are dropped from the change. An empty MQTT `username` removes the
/// user name and the password.
fn keep_stored_secrets(fields: &mut Map<String, Json>) {
    for key in ["hmac_secret", "password"] {
        if fields.get(key).is_some_and(|value| value.is_null() || matches!(value.as_str(), Some("" | "***"))) {
            fields.remove(key);
        }
    }
    if fields.get("username").and_then(Json::as_str) == Some("") {
        fields.insert("username".into(), Json::Null);
        fields.insert("password".into(), Json::Null);
    }
}

/// A new table holding `fields`, leading keys first.
fn new_table(fields: &Map<String, Json>, path: &str, place: &Place<'_>) -> Result<Table, EditError> {
    let mut table = Table::new();
    for (key, value) in ordered(fields) {
        set_field(&mut table, key, value, path, place)?;
    }
    Ok(table)
}

/// Makes `table` hold exactly `fields`: other keys go, kept ones keep their comments.
fn replace_table(table: &mut Table, fields: &Map<String, Json>, path: &str, place: &Place<'_>) -> Result<(), EditError> {
    let stale: Vec<String> = table.iter().map(|(key, _)| key.to_string()).filter(|key| fields.get(key).is_none_or(Json::is_null)).collect();
    for key in stale {
        table.remove(&key);
    }
    for (key, value) in ordered(fields) {
        set_field(table, key, value, path, place)?;
    }
    Ok(())
}

/// Keys whose arrays of objects are written as `[[…]]` tables when new.
const TABLE_ARRAYS: [&str; 1] = ["zone"];

/// Sets `key` of `table` (at tree path `path`) to `value`; `null` removes it. A replaced value
/// keeps its look; an object over a `[table]` or an array of objects over `[[tables]]` edits
/// those in place.
fn set_field(table: &mut Table, key: &str, value: &Json, path: &str, place: &Place<'_>) -> Result<(), EditError> {
    let here = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    if value.is_null() {
        table.remove(key);
        return Ok(());
    }
    let objects = value.as_array().filter(|items| !items.is_empty() && items.iter().all(Json::is_object));
    match (table.get_mut(key), value, objects) {
        (Some(Item::Table(sub)), Json::Object(fields), _) => return replace_table(sub, fields, &here, place),
        (Some(Item::ArrayOfTables(array)), _, Some(items)) => return replace_tables(array, items, &here, place),
        (Some(Item::ArrayOfTables(_)), Json::Array(items), _) if items.is_empty() => {
            table.remove(key);
            return Ok(());
        }
        (Some(Item::Value(old)), _, _) => {
            let mut new = toml_value(value, &here, place)?;
            keep_look(&mut new, old);
            *old = new;
            return Ok(());
        }
        _ => {}
    }
    if let Some(items) = objects.filter(|_| TABLE_ARRAYS.contains(&key)) {
        let mut array = ArrayOfTables::new();
        replace_tables(&mut array, items, &here, place)?;
        table.insert(key, Item::ArrayOfTables(array));
    } else {
        table.insert(key, Item::Value(toml_value(value, &here, place)?));
    }
    Ok(())
}

/// Makes `array` hold one table per object of `items`, editing the existing ones in place.
fn replace_tables(array: &mut ArrayOfTables, items: &[Json], path: &str, place: &Place<'_>) -> Result<(), EditError> {
    for (index, item) in items.iter().enumerate() {
        let fields = item.as_object().expect("only objects are given");
        let here = format!("{path}[{index}]");
        match array.get_mut(index) {
            Some(table) => replace_table(table, fields, &here, place)?,
            None => array.push(new_table(fields, &here, place)?),
        }
    }
    while array.len() > items.len() {
        array.remove(array.len() - 1);
    }
    Ok(())
}

fn toml_value(value: &Json, path: &str, place: &Place<'_>) -> Result<Value, EditError> {
    match to_toml(value) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(place.refuse(path, "null cannot stand here")),
        Err(why) => Err(place.refuse(&format!("{path}{}", why.at), why.message)),
    }
}

/// Sets `key` of the `kind` rule in `zone` (at `zone_path`); `None` when the zone has no such
/// rule. Returns the rule's tree path.
fn set_rule_value(zone: &mut Table, kind: &str, key: &str, value: &Json, zone_path: &str, file: &str) -> Result<Option<String>, EditError> {
    let is_kind = |rule_kind: Option<&str>| rule_kind == Some(kind);
    match zone.get_mut("rules") {
        Some(Item::Value(Value::Array(rules))) => {
            let Some(index) = rules.iter().position(|rule| is_kind(rule.as_inline_table().and_then(|r| r.get("kind")).and_then(Value::as_str))) else {
                return Ok(None);
            };
            let scope = format!("{zone_path}.rules[{index}]");
            let place = Place { file, scope: &scope };
            let rule = rules.get_mut(index).and_then(Value::as_inline_table_mut).expect("found above");
            if value.is_null() {
                rule.remove(key);
                rule.fmt();
                return Ok(Some(scope));
            }
            let new = toml_value(value, &format!("{scope}.{key}"), &place)?;
            match rule.get_mut(key) {
                Some(old) => {
                    let mut new = new;
                    keep_look(&mut new, old);
                    *old = new;
                }
                None => {
                    rule.insert(key, new);
                    rule.fmt();
                }
            }
            Ok(Some(scope))
        }
        Some(Item::ArrayOfTables(rules)) => {
            let Some(index) = rules.iter().position(|rule| is_kind(rule.get("kind").and_then(Item::as_str))) else {
                return Ok(None);
            };
            let scope = format!("{zone_path}.rules[{index}]");
            let place = Place { file, scope: &scope };
            set_field(rules.get_mut(index).expect("found above"), key, value, &scope, &place)?;
            Ok(Some(scope))
        }
        _ => Ok(None),
    }
}

/// Makes `[codes]` hold exactly `codes`; a kind new to the file gets its own `[codes.KIND]`.
fn set_codes(root: &mut Table, codes: &Map<String, Json>, place: &Place<'_>) -> Result<(), EditError> {
    if let Some((kind, _)) = codes.iter().find(|(_, entry)| !(entry.is_object() || entry.is_null())) {
        return Err(place.refuse(&format!("codes.{kind}"), "expected the codes of one kind: {gb47678?, cjt214?, city?}"));
    }
    let wanted: Vec<(&str, &Map<String, Json>)> = ordered(codes).into_iter().filter_map(|(kind, entry)| entry.as_object().map(|e| (kind, e))).collect();
    if wanted.is_empty() {
        root.remove("codes");
        return Ok(());
    }
    if !matches!(root.get("codes"), Some(Item::Table(_))) {
        let mut table = Table::new();
        table.set_implicit(true);
        root.insert("codes", Item::Table(table));
    }
    let table = root.get_mut("codes").and_then(Item::as_table_mut).expect("made a table above");
    let stale: Vec<String> = table.iter().map(|(kind, _)| kind.to_string()).filter(|kind| !wanted.iter().any(|(k, _)| k == kind)).collect();
    for kind in stale {
        table.remove(&kind);
    }
    for (kind, entry) in wanted {
        let path = format!("codes.{kind}");
        if table.contains_key(kind) {
            set_field(table, kind, &Json::Object(entry.clone()), "codes", place)?;
        } else {
            table.insert(kind, Item::Table(new_table(entry, &path, place)?));
        }
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use serde_json::json;
    use std::path::Path;

    const EXAMPLE: &str = include_str!("../../../steward.example.toml");

    fn object(value: Json) -> Map<String, Json> {
        value.as_object().unwrap().clone()
    }

    /// `text` after `change`, validated whole as the store does.
    fn edited(text: &str, change: ConfigChange) -> Result<String, EditError> {
        let mut doc: DocumentMut = text.parse().unwrap();
        let scope = apply_change(&mut doc, change, "test.toml")?;
        let text = doc.to_string();
        load_str(&text, "test.toml", Path::new("/")).map_err(|errors| EditError::Invalid { errors, scope })?;
        Ok(text)
    }

    /// The field each problem names, relative to the edited item.
    fn fields_named(error: EditError) -> Vec<Option<String>> {
        let EditError::Invalid { errors, scope } = error else { panic!("expected Invalid, got {error:?}") };
        errors.errors.iter().map(|e| e.field_under(scope.as_deref().unwrap_or(""))).collect()
    }

    fn zone_rule(camera: &str, zone: &str, kind: &str, key: &str, value: Json) -> ConfigChange {
        ConfigChange::SetRuleValue { camera: camera.into(), zone: zone.into(), kind: kind.into(), key: key.into(), value }
    }

    #[test]
    fn a_camera_added_then_removed_leaves_the_file_as_it_was() {
        let camera = json!({
            "id": "cam-2", "url": "rtsp://10.0.0.7/live", "username": "op", "password": "p@ss", "analysis_fps": 2, "name": "South approach",
            "zone": [{ "id": "z", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], "rules": [{ "dwell_s": 60, "kind": "illegal_parking" }] }],
        });
        let added = edited(EXAMPLE, ConfigChange::AddCamera(object(camera.clone()))).unwrap();
        let codes = EXAMPLE.find("\n# Per-city codes").unwrap();
        let block = "[[camera]]\nid = \"cam-2\"\nname = \"South approach\"\nurl = \"rtsp://op:p%40ss@10.0.0.7/live\"\nanalysis_fps = 2\n\n\
                     [[camera.zone]]\nid = \"z\"\npolygon = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]\nrules = [{ kind = \"illegal_parking\", dwell_s = 60 }]\n";
        assert_eq!(added, format!("{}{block}{}", &EXAMPLE[..codes + 1], &EXAMPLE[codes..]));
        assert!(matches!(edited(&added, ConfigChange::AddCamera(object(camera))), Err(EditError::Conflict(_))));
        assert_eq!(edited(&added, ConfigChange::RemoveCamera { id: "cam-2".into() }).unwrap(), EXAMPLE);
        assert!(matches!(edited(EXAMPLE, ConfigChange::RemoveCamera { id: "cam-9".into() }), Err(EditError::NotFound(_))));
        let nameless = ConfigChange::AddCamera(object(json!({ "url": "rtsp://10.0.0.7/live" })));
        assert_eq!(fields_named(edited(EXAMPLE, nameless).unwrap_err()), [Some("id".to_string())]);
    }

    #[test]
    fn an_update_sets_renames_and_removes_keys_keeping_their_comments() {
        let fields = object(json!({ "id": "cam-north", "gb28181_id": null, "decode": "keyframes", "stall_s": 20 }));
        let updated = edited(EXAMPLE, ConfigChange::UpdateCamera { id: "cam-1".into(), fields }).unwrap();
        let expected = EXAMPLE
            .replace("id = \"cam-1\"                      #", "id = \"cam-north\"                      #")
            .replace("gb28181_id = \"32060200081310000001\"   # optional: 20 digits (GB/T 28181)\n", "")
            .replace("decode = \"all\"                    #", "decode = \"keyframes\"                    #");
        assert_eq!(updated, expected);

        let second = edited(EXAMPLE, ConfigChange::AddCamera(object(json!({ "id": "cam-2", "url": "file:///clips/a.mp4" })))).unwrap();
        let rename = ConfigChange::UpdateCamera { id: "cam-2".into(), fields: object(json!({ "id": "cam-1" })) };
        assert!(matches!(edited(&second, rename), Err(EditError::Conflict(_))));
        let no_zones = edited(EXAMPLE, ConfigChange::UpdateCamera { id: "cam-1".into(), fields: object(json!({ "zone": [] })) }).unwrap();
        assert!(!no_zones.contains("[[camera.zone]]") && no_zones.contains("[camera.location]"), "{no_zones}");
        let unknown = ConfigChange::UpdateCamera { id: "cam-9".into(), fields: Map::new() };
        assert!(matches!(edited(EXAMPLE, unknown), Err(EditError::NotFound(_))));
    }

    #[test]
    fn a_zone_is_replaced_in_place_added_and_removed() {
        let kerb = json!({
            "id": "kerb-east", "name": "East kerb", "polygon": [[0.8, 0.0], [1.0, 0.0], [1.0, 0.25], [0.8, 0.25]],
            "rules": [{ "kind": "illegal_parking", "dwell_s": 120 }],
        });
        let replaced = edited(EXAMPLE, ConfigChange::PutZone { camera: "cam-1".into(), zone: object(kerb) }).unwrap();
        let old_rule = r#"{ kind = "illegal_parking", dwell_s = 300, schedule = { windows = ["07:00-19:00"], weekdays = ["weekdays"], except_dates = ["2026-10-01..2026-10-07"] } },"#;
        assert_eq!(replaced, EXAMPLE.replace(old_rule, r#"{ kind = "illegal_parking", dwell_s = 120 },"#));

        let bus_stop = json!({ "id": "bus-stop", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], "rules": [] });
        let added = edited(EXAMPLE, ConfigChange::PutZone { camera: "cam-1".into(), zone: object(bus_stop) }).unwrap();
        let codes = EXAMPLE.find("\n# Per-city codes").unwrap();
        let block = "[[camera.zone]]\nid = \"bus-stop\"\npolygon = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]\nrules = []\n";
        assert_eq!(added, format!("{}{block}{}", &EXAMPLE[..codes + 1], &EXAMPLE[codes..]));

        let removed = edited(EXAMPLE, ConfigChange::RemoveZone { camera: "cam-1".into(), zone: "verge".into() }).unwrap();
        let (start, end) = (EXAMPLE.find("[[camera.zone]]\nid = \"verge\"").unwrap(), EXAMPLE.find("[[camera.zone]]\nid = \"shop-sign\"").unwrap());
        assert_eq!(removed, format!("{}{}", &EXAMPLE[..start], &EXAMPLE[end..]));
        let unknown = ConfigChange::RemoveZone { camera: "cam-1".into(), zone: "nowhere".into() };
        assert!(matches!(edited(EXAMPLE, unknown), Err(EditError::NotFound(_))));
    }

    #[test]
    fn zone_input_problems_name_the_field() {
        let no_id = ConfigChange::PutZone { camera: "cam-1".into(), zone: object(json!({ "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]] })) };
        assert_eq!(fields_named(edited(EXAMPLE, no_id).unwrap_err()), [Some("id".to_string())]);
        let null_point = ConfigChange::PutZone { camera: "cam-1".into(), zone: object(json!({ "id": "x", "polygon": [[0.1, null]] })) };
        assert_eq!(fields_named(edited(EXAMPLE, null_point).unwrap_err()), [Some("polygon[0][1]".to_string())]);
        let bad_rule = json!({ "id": "x", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], "rules": [{ "kind": "illegal_parking", "dwel_s": 5 }] });
        let bad_rule = ConfigChange::PutZone { camera: "cam-1".into(), zone: object(bad_rule) };
        assert_eq!(fields_named(edited(EXAMPLE, bad_rule).unwrap_err()), [Some("rules[0].dwel_s".to_string())]);
    }

    #[test]
    fn a_rule_value_is_set_replaced_and_removed() {
        let old = r#"{ kind = "unlit_signage", dwell_s = 300, dark_ratio = 0.35, schedule = { windows = ["sunset+15m-22:00"] } },"#;
        let lit = edited(EXAMPLE, zone_rule("cam-1", "shop-sign", "unlit_signage", "lit_level", json!(180))).unwrap();
        let with_lit = r#"{ kind = "unlit_signage", dwell_s = 300, dark_ratio = 0.35, schedule = { windows = ["sunset+15m-22:00"] }, lit_level = 180 },"#;
        assert_eq!(lit, EXAMPLE.replace(old, with_lit));
        let darker = edited(&lit, zone_rule("cam-1", "shop-sign", "unlit_signage", "dark_ratio", json!(0.5))).unwrap();
        assert_eq!(darker, lit.replace("dark_ratio = 0.35", "dark_ratio = 0.5"));
        let unlearned = edited(&lit, zone_rule("cam-1", "shop-sign", "unlit_signage", "lit_level", Json::Null)).unwrap();
        assert_eq!(unlearned, EXAMPLE);
        let missing = zone_rule("cam-1", "shop-sign", "illegal_parking", "dwell_s", json!(5));
        assert!(matches!(edited(EXAMPLE, missing), Err(EditError::NotFound(_))));
        let too_bright = zone_rule("cam-1", "shop-sign", "unlit_signage", "lit_level", json!(300));
        assert_eq!(fields_named(edited(EXAMPLE, too_bright).unwrap_err()), [Some("lit_level".to_string())]);
    }

    #[test]
    fn a_rule_written_as_a_table_is_edited_too() {
        let text = "[site]\nname = \"s\"\nregion_code = \"320602\"\n\n[[camera]]\nid = \"c\"\nurl = \"file:///clips/a.mp4\"\n\n\
                    [[camera.zone]]\nid = \"z\"\npolygon = [[0, 0], [1, 0], [1, 1]]\n\n[[camera.zone.rules]]\nkind = \"illegal_parking\"\ndwell_s = 20 # s\n";
        let longer = edited(text, zone_rule("c", "z", "illegal_parking", "dwell_s", json!(45))).unwrap();
        assert_eq!(longer, text.replace("dwell_s = 20 # s", "dwell_s = 45 # s"));
        let Err(EditError::Invalid { scope, .. }) = edited(text, zone_rule("c", "z", "illegal_parking", "dwell_s", json!(0))) else { panic!("0 s is refused") };
        assert_eq!(scope.as_deref(), Some("camera[0].zone[0].rules[0]"));
    }

    #[test]
    fn a_sink_keeps_its_secret_unless_given_and_a_new_one_needs_one() {
        let fields = object(json!({ "url": "https://other.example/in", "hmac_secret": "", "timeout_s": 20 }));
        let updated = edited(EXAMPLE, ConfigChange::PutSink { name: "city-platform".into(), fields }).unwrap();
        let expected = EXAMPLE.replace("https://platform.example/api/incidents", "https://other.example/in").replace("timeout_s = 10", "timeout_s = 20");
        assert_eq!(updated, expected);

        let no_secret = ConfigChange::PutSink { name: "backup".into(), fields: object(json!({ "url": "https://b.example/in" })) };
        let Err(EditError::Invalid { errors, scope }) = edited(EXAMPLE, no_secret) else { panic!("a new sink needs a secret") };
        assert_eq!((scope.as_deref(), errors.errors[0].field_under("sink[1]").as_deref()), (Some("sink[1]"), Some("hmac_secret")));
        let backup = ConfigChange::PutSink { name: "backup".into(), fields: object(json!({ "url": "https://b.example/in", "hmac_secret": "s3" })) };
        let created = edited(EXAMPLE, backup).unwrap();
        assert_eq!(created, format!("{EXAMPLE}\n[[sink]]\nkind = \"http\"\nname = \"backup\"\nurl = \"https://b.example/in\"\nhmac_secret = \"s3\"\n"));
        assert_eq!(edited(&created, ConfigChange::RemoveSink { name: "backup".into() }).unwrap(), EXAMPLE);
        assert!(matches!(edited(EXAMPLE, ConfigChange::RemoveSink { name: "backup".into() }), Err(EditError::NotFound(_))));
        let rename = ConfigChange::PutSink { name: "city-platform".into(), fields: object(json!({ "name": "other" })) };
        assert_eq!(fields_named(edited(EXAMPLE, rename).unwrap_err()), [Some("name".to_string())]);
        let unnamed = "[site]\nname = \"s\"\nregion_code = \"320602\"\n\n[[sink]]\nkind = \"http\"\nurl = \"http://a/\"\nhmac_secret = \"x\"\n";
        let renamed_default = ConfigChange::PutSink { name: "http".into(), fields: object(json!({ "timeout_s": 5 })) };
        assert!(edited(unnamed, renamed_default).unwrap().ends_with("hmac_secret = \"x\"\ntimeout_s = 5\n"));
    }

    #[test]
    fn an_mqtt_sink_needs_no_hmac_secret_and_keeps_its_password_unless_given() {
        let broker = |text: &str| {
            let config = load_str(text, "test.toml", Path::new("/")).unwrap();
            match config.sinks.iter().find(|s| s.name() == "broker") {
                Some(crate::config::Sink::Mqtt(mqtt)) => (mqtt.url.to_string(), mqtt.topic.to_string(), mqtt.username.clone(), mqtt.password.as_ref().map(|p| p.expose().to_string())),
                other => panic!("an MQTT sink called broker: {other:?}"),
            }
        };
        let create = object(json!({ "kind": "mqtt", "url": "mqtt://broker.local:1883", "username": "box", "password": "hunter2", "topic": "city/{camera}/{event}" }));
        let created = edited(EXAMPLE, ConfigChange::PutSink { name: "broker".into(), fields: create }).unwrap();
        assert!(created.starts_with(EXAMPLE) && created[EXAMPLE.len()..].starts_with("\n[[sink]]\nkind = \"mqtt\"\nname = \"broker\"\n"), "{created}");
        let stored = ("mqtt://broker.local:1883".to_string(), "city/{camera}/{event}".to_string(), Some("box".to_string()), Some("hunter2".to_string()));
        assert_eq!(broker(&created), stored);
        for shown in [json!("***"), json!(""), json!(null)] {
            let fields = object(json!({ "url": "mqtt://other.local", "password": shown }));
            let kept = edited(&created, ConfigChange::PutSink { name: "broker".into(), fields }).unwrap();
            assert_eq!(broker(&kept), ("mqtt://other.local".to_string(), stored.1.clone(), stored.2.clone(), stored.3.clone()));
        }
        let anonymous = edited(&created, ConfigChange::PutSink { name: "broker".into(), fields: object(json!({ "url": "mqtt://broker.local:1883", "username": "" })) }).unwrap();
        assert_eq!(broker(&anonymous), (stored.0.clone(), stored.1.clone(), None, None));
        let unnamed = format!("{EXAMPLE}\n[[sink]]\nkind = \"mqtt\"\nurl = \"mqtt://b/\"\n");
        let by_default_name = ConfigChange::PutSink { name: "mqtt".into(), fields: object(json!({ "url": "mqtt://c", "keep_alive_s": 60 })) };
        assert!(edited(&unnamed, by_default_name).unwrap().ends_with("url = \"mqtt://c\"\nkeep_alive_s = 60\n"));
    }

    #[test]
    fn the_code_table_is_replaced_keeping_its_comment() {
        let codes = object(json!({ "illegal_parking": { "city": "606" }, "exposed_waste": { "gb47678": "06011" } }));
        let replaced = edited(EXAMPLE, ConfigChange::SetCodes(codes)).unwrap();
        let config = load_str(&replaced, "test.toml", Path::new("/")).unwrap();
        let kinds: Vec<&str> = config.codes.overrides.keys().map(|k| k.as_str()).collect();
        assert!(kinds.len() == 2 && kinds.contains(&"illegal_parking") && kinds.contains(&"exposed_waste"), "{kinds:?}");
        assert!(replaced.contains("# Per-city codes where the platform wants other than the national defaults\n"));
        assert!(replaced.contains("[codes.illegal_parking]\ncity = \"606\"\n\n[codes.exposed_waste]\ngb47678 = \"06011\"\n"), "{replaced}");
        assert!(!replaced.contains("street_vending]"));
        let none = edited(EXAMPLE, ConfigChange::SetCodes(Map::new())).unwrap();
        assert!(!none.contains("[codes"));
        let bad = ConfigChange::SetCodes(object(json!({ "exposed_waste": { "gb47678": "6011" } })));
        assert_eq!(fields_named(edited(EXAMPLE, bad).unwrap_err()), [Some("exposed_waste.gb47678".to_string())]);
    }

    #[test]
    fn the_debug_form_of_a_change_shows_keys_not_values() {
        let change = ConfigChange::AddCamera(object(json!({ "id": "c", "password": "hunter2" })));
        let shown = format!("{change:?}");
        assert!(shown.contains("password") && !shown.contains("hunter2"), "{shown}");
    }
}
