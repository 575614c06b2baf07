//! Configuration: one typed tree, read from TOML and validated before anything runs.
//!
//! The path is `raw` (what the operator wrote, serde) → `validate` (every problem collected,
//! each with a location) → [`Config`] (ready to use). `diagnostic` turns a location in the tree
//! into `file:line:col`.

mod diagnostic;
mod load;
mod raw;
mod types;
mod validate;

pub use diagnostic::{ConfigError, ConfigErrors};
pub use load::{load_file, load_str};
pub use types::*;
