//! What the attacker writes on a sync stream, and the raw codec that lets it send and
//! answer anything there.

use std::io;
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{request_response, StreamProtocol};
use p2p::protocol::MAX_RESPONSE_BYTES;

/// Bytes an endless answer writes at most before it gives up.
const ENDLESS_CAP: usize = 16 << 20;

/// What the attacker writes on a sync stream: bytes as they are (framing included, or
/// not), a length prefix of 4 GiB followed by bytes until the reader gives up, or a
/// plausible prefix followed by silence.
#[derive(Debug, Clone)]
pub(crate) enum Wire {
    Bytes(Vec<u8>),
    Endless,
    Stall { prefix: u32, secs: u64 },
}

pub(crate) fn framed(bytes: &[u8]) -> Wire {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    Wire::Bytes(out)
}

async fn write_wire<T: AsyncWrite + Unpin + Send>(io: &mut T, wire: Wire) -> io::Result<()> {
    match wire {
        Wire::Bytes(b) => io.write_all(&b).await?,
        Wire::Endless => {
            io.write_all(&u32::MAX.to_be_bytes()).await?;
            let chunk = vec![0xa5u8; 64 * 1024];
            let mut sent = 0;
            while sent < ENDLESS_CAP {
                io.write_all(&chunk).await?;
                sent += chunk.len();
            }
        }
        Wire::Stall { prefix, secs } => {
            io.write_all(&prefix.to_be_bytes()).await?;
            io.write_all(&[0u8; 16]).await?;
            io.flush().await?;
            tokio::time::sleep(Duration::from_secs(secs)).await;
        }
    }
    io.close().await
}

async fn read_all<T: AsyncRead + Unpin + Send>(io: &mut T, limit: u64) -> io::Result<Wire> {
    let mut buf = Vec::new();
    (&mut *io).take(limit).read_to_end(&mut buf).await?;
    Ok(Wire::Bytes(buf))
}

/// A codec that moves raw bytes, so the attacker can send and answer anything.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Wire;
    type Response = Wire;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Wire>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_all(io, 1 << 20).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Wire>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_all(io, 2 * MAX_RESPONSE_BYTES as u64).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, w: Wire) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_wire(io, w).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, w: Wire) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_wire(io, w).await
    }
}
