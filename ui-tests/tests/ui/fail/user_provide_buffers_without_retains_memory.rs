// In a program's own op table, an op of opcode PROVIDE_BUFFERS must say
// `#[retains_memory]`: the kernel keeps its buffers after the op completes,
// so a scope must not lend them to it (with the attribute, it is not
// `Scoped`).
uring::ops! {
    /// Provides the buffers of a pool to a group.
    #[since = "5.7"]
    pub unsafe struct MyProvide<'a> = PROVIDE_BUFFERS {
        pool: uring::BufferPool<'a> => addr + len + fd,
        group: uring::BufferGroup => buf_group,
    }
}

fn main() {}
