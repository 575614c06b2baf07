//! Secrets and the rules for them: argon2id password hashes, random tokens and their SHA-256
//! digests, constant-time comparison, and what a valid user name and password look like.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::api::FieldError;

const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 1024;
const MAX_NAME_CHARS: usize = 64;

/// The argon2id PHC string (`$argon2id$v=19$...`) of `password`, with a fresh random salt.
/// Slow on purpose: call it from `spawn_blocking`.
pub(super) fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default().hash_password(password.as_bytes()).map(|hash| hash.to_string()).map_err(|error| anyhow::anyhow!("hashing a password: {error}"))
}

/// Whether `password` matches the PHC string `hash`. Slow on purpose: call it from `spawn_blocking`.
pub(super) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordVerifier::<str>::verify_password(&Argon2::default(), password.as_bytes(), hash).is_ok()
}

/// Spends the time of one verification for a user name that does not exist, so that the answer
/// takes as long as for a wrong password.
pub(super) fn verify_unknown_user(password: &str) {
    static DUMMY: LazyLock<String> = LazyLock::new(|| hash_password(&random_token()).unwrap_or_default());
    verify_password(password, &DUMMY);
}

/// 32 random bytes, URL-safe base64 without padding (43 characters).
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `value` has the shape of a `random_token()` (a cookie sent back may be anything).
pub(super) fn is_token_shaped(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The lowercase hex SHA-256 of `secret`: what is stored instead of a session or API token.
pub(super) fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets in time that depends only on their lengths.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// `[A-Za-z0-9._-]{1,64}`.
pub(super) fn valid_user_name(name: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The field errors (422) for a new user's name and password; empty when both are fine.
pub(super) fn check_new_user(username: Option<&str>, password: Option<&str>) -> Vec<FieldError> {
    let mut problems = Vec::new();
    if let Some(name) = username
        && !valid_user_name(name)
    {
        problems.push(field_error("username", "1 to 64 characters: letters, digits, '.', '_' or '-'"));
    }
    if let Some(password) = password {
        let chars = password.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            problems.push(field_error("password", format!("at least {MIN_PASSWORD_CHARS} characters")));
        } else if chars > MAX_PASSWORD_CHARS {
            problems.push(field_error("password", format!("at most {MAX_PASSWORD_CHARS} characters")));
        }
    }
    problems
}

pub(super) fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_owned(), message: message.into(), line: None, column: None }
}

/// A user-supplied name as it may appear in the log: at most 64 characters, control characters
/// escaped (valid names pass unchanged).
pub(super) fn loggable_name(name: &str) -> String {
    name.chars().take(MAX_NAME_CHARS).collect::<String>().escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct hors", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn names_and_passwords() {
        assert!(valid_user_name("ops.team_1-a"));
        for bad in ["", "a b", "名字", "x/y", &"a".repeat(65)] {
            assert!(!valid_user_name(bad), "{bad}");
        }
        assert!(check_new_user(Some("admin"), Some("12345678")).is_empty());
        let problems = check_new_user(Some("a b"), Some("1234567"));
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["username", "password"]);
        assert_eq!(loggable_name("eve\nforged line"), "eve\\nforged line");
    }

    #[test]
    fn tokens_digests_and_comparison() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(is_token_shaped(&a));
        assert!(!is_token_shaped("short") && !is_token_shaped(&format!("{}=", &a[1..])));
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same!"));
    }
}
