//! A response body that holds a guard until the body is done: until its last frame was taken
//! (written to the connection) or it was dropped (the client went away). The in-flight counter
//! of `/stats` and the connection layer's "is a request still being answered" both use it, so a
//! request counts from its arrival to its last byte, streams included.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// A body and a guard dropped with it.
struct Guarded<G> {
    inner: Body,
    guard: Option<G>,
}

impl<G: Send + Unpin + 'static> http_body::Body for Guarded<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            // The last frame is out (or the body failed): the answer is over.
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `resp` with its body holding `guard` until the body is done.
pub(crate) fn with_guard<G: Send + Sync + Unpin + 'static>(resp: Response, guard: G) -> Response {
    let (parts, body) = resp.into_parts();
    Response::from_parts(
        parts,
        Body::new(Guarded {
            inner: body,
            guard: Some(guard),
        }),
    )
}
