//! One module per command. `main.rs` parses the command line, builds the configuration and
//! calls the command's `run`.

pub mod broadcasts;
pub mod mock_server;
pub mod rehearsal;
pub mod runs;
pub mod submit;
pub mod template;
pub mod validate;
