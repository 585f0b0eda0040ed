//! Running hearth inside other runtimes.
//!
//! - [`tokio`] (feature `tokio-host`): hearth's executor hosted on a tokio
//!   thread, so a tokio application adopts hearth one `!Send` subsystem at a
//!   time.

#[cfg(feature = "tokio-host")]
pub mod tokio;
