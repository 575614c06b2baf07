//! Configuration: one typed tree, read from TOML and validated before anything runs.
//!
//! The path is `raw` (what the operator wrote, serde) → `validate` (every problem collected,
//! each with a location) → [`Config`] (ready to use). `diagnostic` turns a location in the tree
//! into `file:line:col`. `store` keeps the file as the source of truth: API changes are `edit`s
//! of the TOML (comments kept), validated whole before they are written, and hand edits of the
//! file are picked up the same way.

mod change;
mod credentials;
mod diagnostic;
mod edit;
mod json_toml;
mod load;
mod raw;
mod store;
mod types;
mod validate;

pub use diagnostic::{ConfigError, ConfigErrors};
pub use change::{ConfigChange, EditError};
pub use load::{load_file, load_str};
pub use store::ConfigStore;
pub use types::*;
pub use validate::parse_camera_url;
