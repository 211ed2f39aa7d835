//! Framing of sync messages on a libp2p stream: a 4-byte big-endian length, then the
//! message encoded by [`crate::protocol`]. A length over the limit is refused before
//! anything is read or allocated.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use libp2p::StreamProtocol;

use crate::network::NetCounters;
use crate::protocol::{SyncRequest, SyncResponse, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};

/// The request-response codec of the sync protocol; counts the bytes it reads and writes.
#[derive(Debug, Clone, Default)]
pub struct SyncCodec {
    counters: Arc<NetCounters>,
}

impl SyncCodec {
    pub fn new(counters: Arc<NetCounters>) -> SyncCodec {
        SyncCodec { counters }
    }

    fn read(&self, n: usize) {
        self.counters
            .sync_bytes_in
            .fetch_add(n as u64 + 4, Ordering::Relaxed);
    }

    fn wrote(&self, n: usize) {
        self.counters
            .sync_bytes_out
            .fetch_add(n as u64 + 4, Ordering::Relaxed);
    }
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("sync message of {len} bytes exceeds the limit of {limit} bytes"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "sync message too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_frame(io, MAX_REQUEST_BYTES).await?;
        self.read(bytes.len());
        SyncRequest::decode(&bytes).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_frame(io, MAX_RESPONSE_BYTES).await?;
        self.read(bytes.len());
        SyncResponse::decode(&bytes).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let bytes = request.encode();
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(invalid("sync request over the limit"));
        }
        self.wrote(bytes.len());
        write_frame(io, &bytes).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let bytes = response.encode();
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(invalid("sync reply over the limit"));
        }
        self.wrote(bytes.len());
        write_frame(io, &bytes).await
    }
}
