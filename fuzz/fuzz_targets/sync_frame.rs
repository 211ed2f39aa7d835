//! The length-prefixed framing of sync messages, driven without a socket: the bytes are
//! the stream, read by the libp2p codec's `read_request` (first byte even) or
//! `read_response` (odd). A message that reads must be exactly the framed prefix of the
//! stream, and a refusal for bad bytes must be the kind that penalises the peer.
#![no_main]

use futures::executor::block_on;
use futures::io::Cursor;
use libfuzzer_sys::fuzz_target;
use libp2p::request_response::Codec;
use libp2p::StreamProtocol;
use p2p::codec::{broke_protocol, SyncCodec};
use p2p::protocol::{SyncRequest, SyncResponse, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};

fuzz_target!(|data: &[u8]| {
    let Some((&which, stream)) = data.split_first() else {
        return;
    };
    let protocol = StreamProtocol::new("/fuzz/sync/1");
    let mut codec = SyncCodec::default();
    let mut io = Cursor::new(stream.to_vec());
    let declared = stream
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let (read, limit) = if which & 1 == 0 {
        let r = block_on(codec.read_request(&protocol, &mut io)).map(|m| m.encode());
        (r, MAX_REQUEST_BYTES)
    } else {
        let r = block_on(codec.read_response(&protocol, &mut io)).map(|m| m.encode());
        (r, MAX_RESPONSE_BYTES)
    };
    match read {
        Ok(message) => {
            assert_eq!(declared, Some(message.len()));
            assert!(message.len() <= limit);
            assert_eq!(&stream[4..4 + message.len()], &message[..]);
            // What was read writes back as the same frame.
            let mut out = Cursor::new(Vec::new());
            let wrote = if which & 1 == 0 {
                let m = SyncRequest::decode(&message).ok();
                m.map(|m| block_on(codec.write_request(&protocol, &mut out, m)))
            } else {
                let m = SyncResponse::decode(&message).ok();
                m.map(|m| block_on(codec.write_response(&protocol, &mut out, m)))
            };
            assert!(matches!(wrote, Some(Ok(()))));
            assert_eq!(&out.into_inner()[..], &stream[..4 + message.len()]);
        }
        Err(e) => {
            // A stream cut short may be an honest peer leaving: never penalised. A whole
            // frame that fails is the peer's fault.
            let whole = declared.is_some_and(|n| n > limit || stream.len() >= 4 + n);
            assert_eq!(broke_protocol(&e), whole, "{e}");
        }
    }
});
