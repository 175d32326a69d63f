// Type parameters of an op come from its target and buffer kinds.
uring::ops! {
    /// Reads.
    #[since = "5.6"]
    pub unsafe struct MyRead<T> = READ {
        target: fd,
    }
}

fn main() {}
