// The ring keeps a `#[ring_owned]` timespec for 16 bytes and until the
// kernel consumes the SQE: enough for the timespecs TIMEOUT, LINK_TIMEOUT
// and TIMEOUT_REMOVE copy then, not for a READ, which writes `len` bytes
// there at issue (over other SQEs' timespecs).
uring::ops! {
    /// Reads `len` bytes into the ring-owned copy of `at`.
    #[since = "5.6"]
    unsafe struct ReadIntoRingTime = READ {
        target: fd,
        #[ring_owned]
        at: uring::Timespec => addr,
        len: u32 => len,
    }
}

fn main() {}
