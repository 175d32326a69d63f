// IOSQE_BUFFER_SELECT follows from passing a `BufferSelect` as the buffer.
use uring::{SqeFlags, ops::Read};

fn main() {
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut buf = [0u8; 16];
    let _read = Read::new(&file, &mut buf[..]).flags(SqeFlags::BUFFER_SELECT);
}
