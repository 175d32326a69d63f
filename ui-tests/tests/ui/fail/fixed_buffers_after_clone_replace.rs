// `clone_buffers_replace` takes the table's handle and gives back the
// handle of the table as it now is (it may have grown): the old one, and
// the length it knew, are gone. Use the handle it returns.
use std::io::IoSliceMut;
use uring::Ring;

fn main() {
    let mut src = Ring::new(8).unwrap();
    let mut dst = Ring::new(8).unwrap();
    let mut memory = vec![0u8; 4096];
    // SAFETY: not run; ui case.
    let theirs = unsafe { src.register_buffers(&[IoSliceMut::new(&mut memory)]) }.unwrap();
    let ours = dst.register_buffers_sparse(1).unwrap();
    // SAFETY: as above.
    let grown = unsafe { dst.clone_buffers_replace(ours, 1, &src, &theirs, 0, 1) }.unwrap();
    let _ = ours.get(1);
    let _ = grown;
}
