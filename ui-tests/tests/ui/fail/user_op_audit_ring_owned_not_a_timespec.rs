// The ring keeps one `Timespec` per SQ slot for a `#[ring_owned]`
// argument: an argument of any other type (here 64 bytes a program wants
// the kernel to read from the ring) has no storage there, and is refused.
uring::ops! {
    /// Writes 64 bytes kept by the ring.
    #[since = "5.6"]
    unsafe struct WriteRingBytes = WRITE {
        target: fd,
        #[ring_owned]
        bytes: [u8; 64] => addr,
        const len = 64,
    }
}

fn main() {}
