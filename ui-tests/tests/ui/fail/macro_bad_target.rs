// A target takes `fd`, optionally `fixed`, and nothing else.
uring::ops! {
    /// Reads.
    #[since = "5.6"]
    pub unsafe struct MyRead = READ {
        target: fd | socket,
    }
}

fn main() {}
