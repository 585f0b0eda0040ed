//! [`ResponseBody`]: a response's body, which gives its HTTP/1.1
//! connection back to the pool when it has been read to the end.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};

/// The body of a response from the [`Client`](super::Client): hyper's
/// [`Incoming`] body, read with [`http_body_util::BodyExt`] (`collect`,
/// `frame`) or any other [`Body`] consumer.
///
/// Reading it to the end frees its HTTP/1.1 connection for the next
/// request; dropping it earlier closes that connection (the rest of the
/// response would have to be read first). HTTP/2 streams share their
/// connection either way.
///
/// # Examples
///
/// ```no_run
/// use http_body_util::BodyExt;
///
/// hearth::block_on(async {
///     let client = hearth_hyper::client::Client::new();
///     let response = client.get("http://127.0.0.1:8080/").await?;
///     let bytes = response.into_body().collect().await?.to_bytes();
///     println!("{} bytes", bytes.len());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ResponseBody {
    inner: Incoming,
    /// Gives the connection back; run once, at the end of the body.
    on_end: Option<Box<dyn FnOnce()>>,
}

impl ResponseBody {
    pub(crate) fn new(inner: Incoming, on_end: Option<Box<dyn FnOnce()>>) -> ResponseBody {
        ResponseBody { inner, on_end }
    }

    fn ended(&mut self) {
        if let Some(on_end) = self.on_end.take() {
            on_end();
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        match &poll {
            Poll::Ready(None) => this.ended(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.ended(),
            // An error: the connection is dropped with the closure.
            Poll::Ready(Some(Err(_))) => this.on_end = None,
            _ => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .field("pooled", &self.on_end.is_some())
            .finish()
    }
}
