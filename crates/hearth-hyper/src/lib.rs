//! hyper 1.x on hearth, without glue.
//!
//! - [`HearthTimer`]: hyper's [`Timer`](hyper::rt::Timer) on hearth's timer
//!   wheel, so that hyper's timeouts work (the HTTP/1 header-read timeout,
//!   hyper's protection against slow clients, and HTTP/2 keep-alive).
//! - [`HearthExecutor`]: hyper's [`Executor`](hyper::rt::Executor), spawning
//!   on the current worker (HTTP/2 streams).
//! - [`serve`] and [`serve_tower`] (options on [`server::Builder`]): a hyper
//!   or tower service (an axum `Router`) over HTTP/1.1 and HTTP/2 on every
//!   worker of a [`hearth::Runtime`], with a header-read timeout and the
//!   runtime's graceful shutdown; HTTPS through rustls with
//!   [`server::Builder::tls`] (feature `tls`, on by default).
//! - [`Client`] (module [`client`]): a pooled HTTP/1.1 and HTTP/2 client per
//!   worker, with connect and request timeouts, DNS through hearth's
//!   non-blocking lookup, and `https` URLs (feature `tls`).
//!
//! hearth's sockets reach hyper through hyper-util's `TokioIo` (hearth's
//! `tokio-io` feature); no tokio runtime runs.
//!
//! # Examples
//!
//! An axum router on every worker:
//!
//! ```no_run
//! use axum::{routing::get, Router};
//!
//! let rt = hearth::Runtime::builder().build()?;
//! let app = Router::new().route("/", get(|| async { "Hello, World!" }));
//! let server = rt.block_on(hearth_hyper::serve_tower(&rt, "127.0.0.1:8080".parse()?, app))?;
//! println!("listening on http://{}/", server.local_addr());
//! rt.block_on(hearth::signal::ctrl_c())?;
//! rt.shutdown_graceful(std::time::Duration::from_secs(10))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The README's example: an axum router, then the pooled client asks it.
//!
//! ```
//! # if cfg!(miri) { return Ok(()); } // Miri cannot open sockets
//! use axum::{routing::get, Router};
//! use http_body_util::BodyExt;
//!
//! let rt = hearth::Runtime::builder().workers(1).build()?;
//! let app = Router::new().route("/", get(|| async { "Hello, World!" }));
//! let server = rt.block_on(hearth_hyper::serve_tower(&rt, "127.0.0.1:0".parse()?, app))?;
//! let url = format!("http://{}/", server.local_addr());
//!
//! // The client: one per worker (it is `!Send`), HTTP/1.1 keep-alive and HTTP/2 pooling.
//! let body = hearth::block_on(async {
//!     let client = hearth_hyper::Client::new();
//!     let response = client.get(url.as_str()).await?;
//!     Ok::<_, Box<dyn std::error::Error>>(response.into_body().collect().await?.to_bytes())
//! })?;
//! assert_eq!(body, "Hello, World!");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The examples (`cargo run -p hearth-hyper --example NAME`): `http` (hyper,
//! slow clients cut off), `axum`, `https` (rustls, a self-signed
//! certificate), `client` (the pooled client on every worker).

pub mod client;
mod detect;
mod executor;
pub mod server;
mod timer;
#[cfg(feature = "tls")]
mod tls;

pub use client::Client;
pub use executor::HearthExecutor;
pub use server::{serve, serve_tower};
pub use timer::{HearthSleep, HearthTimer};
