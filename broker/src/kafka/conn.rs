//! One Kafka connection: length-prefixed frames in, answers out in request order.
//!
//! A reader task reads frames into a bounded channel; the connection task decodes each,
//! answers ApiVersions and SASL itself (they change the session) and runs the others
//! concurrently, up to `kafka.max_in_flight`, writing answers in the order requests came
//! (the protocol requires it; clients pipeline). Frame memory is bounded twice: one frame by
//! `kafka.max_frame_bytes` before it is allocated, all frames of the broker in flight by
//! [`BUFFER_BUDGET`] (a permit travels with each request until its answer is written).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Kafka;
use super::dispatch::{self, Request};
use super::errors::ConnError;
use super::sasl::Session;

/// Bytes of request frames all Kafka connections of this broker may hold at once; a reader
/// waits for room before it allocates a frame.
const BUFFER_BUDGET: usize = 512 << 20;
static BUFFERED: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(BUFFER_BUDGET)));

/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

type Answer = Pin<Box<dyn Future<Output = Result<Option<BytesMut>, ConnError>> + Send>>;

/// Serves one accepted connection until it closes, fails or `cancel` fires.
pub(super) async fn serve(
    kafka: Arc<Kafka>,
    stream: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    cancel: CancellationToken,
) {
    let outcome = match tls {
        Some(acceptor) => {
            match tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(stream)).await {
                Ok(Ok(s)) => run(kafka, s, cancel).await,
                Ok(Err(e)) => Err(ConnError::Io(e)),
                Err(_) => Err(ConnError::BadFrame("TLS handshake timed out".into())),
            }
        }
        None => run(kafka, stream, cancel).await,
    };
    match outcome {
        Ok(()) => tracing::debug!("kafka connection closed"),
        Err(ConnError::Io(e)) => tracing::debug!(error = %e, "kafka connection ended"),
        Err(e) => tracing::info!(error = %e, "kafka connection closed"),
    }
}

/// Aborts the reader task when the connection ends for any reason.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run<S>(kafka: Arc<Kafka>, stream: S, cancel: CancellationToken) -> Result<(), ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let settings = &kafka.api.settings.kafka;
    let (max, in_flight) = (
        settings.max_frame_bytes.min(BUFFER_BUDGET),
        settings.max_in_flight,
    );
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel(in_flight);
    let reader = async move {
        loop {
            let frame = read_frame(&mut rd, max).await;
            let end = !matches!(frame, Ok(Some(_)));
            if tx.send(frame).await.is_err() || end {
                break;
            }
        }
    };
    // Ends with the connection (aborted on drop), inside the connection's span.
    let _reader = AbortOnDrop(tokio::spawn(reader.instrument(tracing::Span::current())));
    let mut session = Session::new(kafka.tokens.is_some());
    let mut pending: FuturesOrdered<Answer> = FuturesOrdered::new();
    let mut eof = false;
    loop {
        if eof && pending.is_empty() {
            return Ok(());
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            frame = rx.recv(), if !eof && pending.len() < in_flight => {
                let Some((frame, permit)) = frame.transpose()?.flatten() else {
                    eof = true;
                    continue;
                };
                let req = Request::parse(frame)?;
                pending.push_back(answer(&kafka, &mut session, req, permit)?);
            }
            Some(answer) = pending.next() => {
                if let Some(bytes) = answer? {
                    wr.write_all(&bytes).await?;
                }
            }
        }
    }
}

/// The future answering `req`: session requests are answered at once, in order; the others
/// run concurrently with the session's principal. The frame's memory permit lives until the
/// answer is written.
fn answer(
    kafka: &Arc<Kafka>,
    session: &mut Session,
    req: Request,
    permit: OwnedSemaphorePermit,
) -> Result<Answer, ConnError> {
    if let Some(now) = session.handle(kafka, &req)? {
        drop(permit);
        return Ok(Box::pin(futures::future::ready(Ok(Some(now)))));
    }
    let who = session.who(req.api_key)?;
    let kafka = kafka.clone();
    Ok(Box::pin(async move {
        let out = dispatch::handle(kafka, who, req).await;
        drop(permit);
        out
    }))
}

/// Reads one frame: `Ok(None)` at a clean end of stream. The length is checked before
/// anything is allocated, and the frame waits for room in [`BUFFER_BUDGET`].
async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    max: usize,
) -> Result<Option<(Bytes, OwnedSemaphorePermit)>, ConnError> {
    let mut len = [0u8; 4];
    match rd.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = i32::from_be_bytes(len);
    let n = usize::try_from(len)
        .ok()
        .filter(|n| *n <= max)
        .ok_or(ConnError::FrameTooLarge {
            len: i64::from(len),
            limit: max,
        })?;
    let permit = BUFFERED
        .clone()
        .acquire_many_owned(u32::try_from(n.max(1)).unwrap_or(u32::MAX))
        .await
        .map_err(|_| ConnError::BadFrame("frame budget closed".into()))?;
    let mut buf = BytesMut::zeroed(n);
    rd.read_exact(&mut buf).await?;
    Ok(Some((buf.freeze(), permit)))
}
