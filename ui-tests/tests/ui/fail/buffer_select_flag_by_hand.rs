// IOSQE_BUFFER_SELECT follows from passing a `BufferSelect` as the buffer.
use uring::{SqeFlags, ops::Read};

fn main() {
    let mut buf = [0u8; 16];
    let _read = Read::new(0, &mut buf[..]).flags(SqeFlags::BUFFER_SELECT);
}
