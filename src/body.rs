//! Request bodies on their way upstream: counted against the route's limit and cut off at a
//! deadline, while they stream.
//!
//! A `Content-Length` over the limit is refused before anything is sent; a chunked body is
//! counted frame by frame and the upstream exchange is aborted the moment it passes the limit,
//! so the upstream never receives a complete over-sized request.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

use crate::error::Rejection;
use tokio::time::{Instant, Sleep};

/// Refuses a request whose declared `Content-Length` is over `limit` (413) or malformed (400),
/// before any of its body is read or sent.
pub fn check_declared_length(headers: &http::HeaderMap, limit: u64) -> Result<(), Rejection> {
    let Some(length) = headers.get(http::header::CONTENT_LENGTH) else {
        return Ok(());
    };
    let length = length
        .to_str()
        .ok()
        .and_then(|l| l.parse::<u64>().ok())
        .ok_or(Rejection::InvalidHeader("bad_content_length"))?;
    if length > limit {
        return Err(Rejection::BodyTooLarge { limit });
    }
    Ok(())
}

/// Reads a whole request body, at most `limit` bytes within `timeout`, for a stage that must
/// see all of it before deciding.
pub async fn read_whole<B>(body: B, limit: u64, timeout: Duration) -> Result<Bytes, Rejection>
where
    B: Body<Data = Bytes>,
{
    use http_body_util::BodyExt as _;
    let collected = LimitedBody::new(body, limit, timeout).collect().await;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(BodyError::TooLarge { limit }) => Err(Rejection::BodyTooLarge { limit }),
        Err(BodyError::TimedOut) => Err(Rejection::BodyTimeout),
        Err(BodyError::Aborted) => Err(Rejection::BodyAborted),
    }
}

/// Why a request body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// More bytes arrived than the limit allows.
    #[error("request body exceeds {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The body was not complete by the deadline.
    #[error("request body not received in time")]
    TimedOut,
    /// The client's stream failed.
    #[error("request body stream failed")]
    Aborted,
}

pin_project_lite::pin_project! {
    /// A body that fails with [`BodyError`] once it passes `limit` bytes or its deadline.
    pub struct LimitedBody<B> {
        #[pin]
        inner: B,
        remaining: u64,
        limit: u64,
        deadline: Instant,
        // Created on the first poll that waits, so bodiless requests never touch the timer.
        timer: Option<Pin<Box<Sleep>>>,
        // Told once the whole body has been read, so the upstream's time starts only then.
        sent: Option<oneshot::Sender<()>>,
    }
}

impl<B> LimitedBody<B> {
    /// Wraps `inner`, allowing `limit` bytes within `timeout` from now.
    pub fn new(inner: B, limit: u64, timeout: Duration) -> Self {
        LimitedBody {
            inner,
            remaining: limit,
            limit,
            deadline: Instant::now() + timeout,
            timer: None,
            sent: None,
        }
    }

    /// Returns a receiver that completes once the whole body has been read, or fails when
    /// the body is dropped unfinished.
    pub fn on_sent(&mut self) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        self.sent = Some(sender);
        receiver
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let mut this = self.project();
        let frame = match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                let deadline = *this.deadline;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                ready!(timer.as_mut().poll(cx));
                return Poll::Ready(Some(Err(BodyError::TimedOut)));
            }
        };
        let Some(frame) = frame else {
            if let Some(sent) = this.sent.take() {
                let _ = sent.send(());
            }
            return Poll::Ready(None);
        };
        let frame = frame.map_err(|_| BodyError::Aborted)?;
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > *this.remaining {
                *this.remaining = 0;
                return Poll::Ready(Some(Err(BodyError::TooLarge { limit: *this.limit })));
            }
            *this.remaining -= len;
        }
        // With a known length, hyper stops polling after the last byte instead of waiting
        // for the end of the stream.
        if this.inner.is_end_stream()
            && let Some(sent) = this.sent.take()
        {
            let _ = sent.send(());
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http_body_util::{BodyExt, StreamBody};
    use std::convert::Infallible;

    fn chunks(parts: &[&'static [u8]]) -> impl Body<Data = Bytes, Error = Infallible> {
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p))))
            .collect();
        StreamBody::new(stream::iter(frames))
    }

    #[tokio::test]
    async fn under_the_limit_passes_whole() {
        let body = LimitedBody::new(chunks(&[b"ab", b"cd"]), 4, Duration::from_secs(5));
        assert_eq!(
            body.collect().await.unwrap().to_bytes(),
            Bytes::from_static(b"abcd")
        );
    }

    #[tokio::test]
    async fn completion_is_signalled_only_for_a_whole_body() {
        let mut body = LimitedBody::new(chunks(&[b"ab", b"cd"]), 4, Duration::from_secs(5));
        let sent = body.on_sent();
        body.collect().await.unwrap();
        assert!(sent.await.is_ok());

        let mut body = LimitedBody::new(chunks(&[b"ab", b"cde"]), 4, Duration::from_secs(5));
        let sent = body.on_sent();
        assert!(body.collect().await.is_err());
        assert!(
            sent.await.is_err(),
            "an over-sized body must not count as sent"
        );
    }

    #[tokio::test]
    async fn one_byte_over_fails() {
        let body = LimitedBody::new(chunks(&[b"ab", b"cde"]), 4, Duration::from_secs(5));
        assert_eq!(
            body.collect().await.unwrap_err(),
            BodyError::TooLarge { limit: 4 }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stalled_body_times_out() {
        let stalled = StreamBody::new(stream::pending::<Result<Frame<Bytes>, Infallible>>());
        let body = LimitedBody::new(stalled, 4, Duration::from_secs(1));
        assert_eq!(body.collect().await.unwrap_err(), BodyError::TimedOut);
    }
}
