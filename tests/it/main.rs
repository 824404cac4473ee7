//! Integration tests, built as one binary: each module drives one command end to end.

mod mock;
mod resume;
mod submit;
mod util;
mod validate;
