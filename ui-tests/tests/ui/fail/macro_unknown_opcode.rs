// A bare opcode name must be one of the kernel's.
uring::ops! {
    /// Reads.
    #[since = "5.6"]
    pub unsafe struct MyRead = REED {}
}

fn main() {}
