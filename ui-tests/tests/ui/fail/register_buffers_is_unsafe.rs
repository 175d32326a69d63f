// Registered buffers are pinned by the kernel and written by fixed ops for as
// long as they are registered, whatever happens to the memory meanwhile: the
// caller promises it stays valid, so `register_buffers` needs `unsafe`.
use std::io::IoSliceMut;
use uring::Ring;

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let mut memory = vec![0u8; 4096];
    let buffers = ring
        .register_buffers(&[IoSliceMut::new(&mut memory)])
        .unwrap();
    drop(memory);
    drop(buffers);
}
