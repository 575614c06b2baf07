//! Camera credentials from the API: `username` / `password` folded into the URL's userinfo, and
//! the stored ones kept when the API leaves them out or shows them masked (`***`).

use serde_json::{Map, Value as Json};
use url::Url;

/// What the API writes in place of credentials it will not show.
const MASK: &str = "***";

/// Folds the API's `username` and `password` (not config keys) into `fields["url"]`, and removes
/// them from `fields`. `stored` is the camera's current URL on an update (`None` when adding).
///
/// - neither given, or the given URL's user or password is `***`: the stored credentials stay;
/// - `username: ""` and `password: ""`: the credentials are removed;
/// - otherwise each one given replaces the stored one (an empty `password` keeps it).
///
/// Err names the input key that cannot be used, and why. A URL that does not parse is left as
/// given, for validation to report (redacted).
pub fn fold_credentials(fields: &mut Map<String, Json>, stored: Option<&str>) -> Result<(), (String, String)> {
    let username = take_text(fields, "username")?;
    let password = take_text(fields, "password")?;
    let given = match fields.get("url") {
        None | Some(Json::Null) => None,
        Some(Json::String(text)) => Some(text.clone()),
        Some(_) => return Ok(()),
    };
    let stored = stored.and_then(|text| Url::parse(text).ok());
    if given.is_none() && username.is_none() && password.is_none() {
        return Ok(());
    }
    let mut url = match given.as_deref().map(Url::parse) {
        Some(Ok(url)) => url,
        Some(Err(_)) => return Ok(()),
        None => match stored.clone() {
            Some(url) => url,
            None => return Ok(()),
        },
    };

    let shown = (url.username().to_string(), url.password().map(str::to_string));
    let masked = shown.0 == MASK || shown.1.as_deref() == Some(MASK);
    let written_out = given.is_some() && !masked && (!shown.0.is_empty() || shown.1.is_some());
    let (mut user, mut pass) = if written_out {
        shown.clone()
    } else {
        stored.as_ref().map_or((String::new(), None), |s| (s.username().to_string(), s.password().map(str::to_string)))
    };
    if username.as_deref() == Some("") && password.as_deref() == Some("") {
        (user, pass) = (String::new(), None);
    } else {
        if let Some(name) = username {
            user = escape_percent(&name);
        }
        if let Some(secret) = password.filter(|p| !p.is_empty()) {
            pass = Some(escape_percent(&secret));
        }
    }
    if (user.as_str(), pass.as_deref()) == (shown.0.as_str(), shown.1.as_deref()) {
        return Ok(());
    }
    if url.set_username(&user).is_err() || url.set_password(pass.as_deref()).is_err() {
        let key = if pass.is_some() { "password" } else { "username" };
        return Err((key.to_string(), format!("a `{}` URL takes no user name or password", url.scheme())));
    }
    fields.insert("url".to_string(), Json::String(url.to_string()));
    Ok(())
}

/// Removes `key` from `fields`: its text, `None` when absent or null, Err when not text.
fn take_text(fields: &mut Map<String, Json>, key: &str) -> Result<Option<String>, (String, String)> {
    match fields.remove(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(text)) => Ok(Some(text)),
        Some(_) => Err((key.to_string(), format!("`{key}` must be text"))),
    }
}

/// The URL crate percent-encodes what userinfo may not hold but takes `%` as already encoding
/// something: a literal `%` is encoded here first.
fn escape_percent(raw: &str) -> String {
    raw.replace('%', "%25")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STORED: &str = "rtsp://admin:hunter2@10.0.0.5:554/ch1";

    fn folded(fields: Json, stored: Option<&str>) -> Map<String, Json> {
        let mut fields = fields.as_object().unwrap().clone();
        fold_credentials(&mut fields, stored).unwrap();
        fields
    }

    fn url(fields: &Map<String, Json>) -> &str {
        fields["url"].as_str().unwrap()
    }

    #[test]
    fn username_and_password_go_into_the_url_percent_encoded() {
        let fields = folded(json!({ "url": "rtsp://10.0.0.9/live", "username": "ad@min", "password": "p:ss/w%rd" }), None);
        assert_eq!(url(&fields), "rtsp://ad%40min:p%3Ass%2Fw%25rd@10.0.0.9/live");
        assert!(!fields.contains_key("username") && !fields.contains_key("password"));
        let parsed = Url::parse(url(&fields)).unwrap();
        assert_eq!(parsed.password(), Some("p%3Ass%2Fw%25rd"));
    }

    #[test]
    fn stored_credentials_stay_when_left_out_or_masked() {
        assert_eq!(url(&folded(json!({ "url": "rtsp://10.0.0.6/ch2" }), Some(STORED))), "rtsp://admin:hunter2@10.0.0.6/ch2");
        assert_eq!(url(&folded(json!({ "url": "rtsp://***@10.0.0.6/ch2" }), Some(STORED))), "rtsp://admin:hunter2@10.0.0.6/ch2");
        assert_eq!(url(&folded(json!({ "url": "rtsp://***:***@10.0.0.6/ch2" }), Some(STORED))), "rtsp://admin:hunter2@10.0.0.6/ch2");
        assert!(!folded(json!({ "name": "x" }), Some(STORED)).contains_key("url"));
        let new_password = folded(json!({ "password": "s3cret" }), Some(STORED));
        assert_eq!(url(&new_password), "rtsp://admin:s3cret@10.0.0.5:554/ch1");
        let empty_password = folded(json!({ "username": "root", "password": "" }), Some(STORED));
        assert_eq!(url(&empty_password), "rtsp://root:hunter2@10.0.0.5:554/ch1");
    }

    #[test]
    fn empty_username_and_password_remove_the_credentials() {
        assert_eq!(url(&folded(json!({ "username": "", "password": "" }), Some(STORED))), "rtsp://10.0.0.5:554/ch1");
    }

    #[test]
    fn credentials_written_in_the_url_are_taken_as_given() {
        assert_eq!(url(&folded(json!({ "url": "rtsp://bob:pw@10.0.0.6/ch2" }), Some(STORED))), "rtsp://bob:pw@10.0.0.6/ch2");
        assert_eq!(url(&folded(json!({ "url": "not a url", "password": "x" }), Some(STORED))), "not a url");
    }

    #[test]
    fn a_non_text_password_is_refused() {
        let mut fields = json!({ "url": "rtsp://h/x", "password": 5 }).as_object().unwrap().clone();
        assert_eq!(fold_credentials(&mut fields, None).unwrap_err().0, "password");
    }
}
