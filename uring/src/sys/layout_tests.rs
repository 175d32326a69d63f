//! The ABI structs must match the C header byte for byte: every size and every
//! field offset below is the one `linux/io_uring.h` gives on all Linux targets.

use super::*;
use core::mem::{align_of, offset_of, size_of};

macro_rules! assert_layout {
    ($ty:ty, size = $size:expr, { $($($field:ident).+ => ($off:expr, $fsize:expr)),* $(,)? }) => {{
        assert_eq!(size_of::<$ty>(), $size, "size of {}", stringify!($ty));
        $(
            assert_eq!(
                offset_of!($ty, $($field).+), $off,
                "offset of {}.{}", stringify!($ty), stringify!($($field).+)
            );
            assert_eq!(
                // SAFETY: the projection is never called; it only names the
                // field's type.
                field_size(|v: *const $ty| unsafe { &raw const (*v).$($field).+ }), $fsize,
                "size of {}.{}", stringify!($ty), stringify!($($field).+)
            );
        )*
    }};
}

/// The size of the field a projection names, read off the type only.
fn field_size<T, F>(_project: impl Fn(*const T) -> *const F) -> usize {
    size_of::<F>()
}

#[test]
fn sqe_layout() {
    assert_layout!(io_uring_sqe, size = 64, {
        opcode => (0, 1),
        flags => (1, 1),
        ioprio => (2, 2),
        fd => (4, 4),
        off => (8, 8),
        off.off => (8, 8),
        off.addr2 => (8, 8),
        off.cmd => (8, 8),
        off.cmd.cmd_op => (8, 4),
        off.cmd.__pad1 => (12, 4),
        addr => (16, 8),
        addr.addr => (16, 8),
        addr.splice_off_in => (16, 8),
        addr.sockopt.level => (16, 4),
        addr.sockopt.optname => (20, 4),
        len => (24, 4),
        op_flags => (28, 4),
        op_flags.rw_flags => (28, 4),
        op_flags.fsync_flags => (28, 4),
        op_flags.poll32_events => (28, 4),
        op_flags.sync_range_flags => (28, 4),
        op_flags.msg_flags => (28, 4),
        op_flags.timeout_flags => (28, 4),
        op_flags.accept_flags => (28, 4),
        op_flags.cancel_flags => (28, 4),
        op_flags.open_flags => (28, 4),
        op_flags.statx_flags => (28, 4),
        op_flags.fadvise_advice => (28, 4),
        op_flags.splice_flags => (28, 4),
        op_flags.rename_flags => (28, 4),
        op_flags.unlink_flags => (28, 4),
        op_flags.hardlink_flags => (28, 4),
        op_flags.xattr_flags => (28, 4),
        op_flags.msg_ring_flags => (28, 4),
        op_flags.uring_cmd_flags => (28, 4),
        op_flags.waitid_flags => (28, 4),
        op_flags.futex_flags => (28, 4),
        op_flags.install_fd_flags => (28, 4),
        op_flags.nop_flags => (28, 4),
        op_flags.pipe_flags => (28, 4),
        user_data => (32, 8),
        buf => (40, 2),
        buf.buf_index => (40, 2),
        buf.buf_group => (40, 2),
        personality => (42, 2),
        file => (44, 4),
        file.splice_fd_in => (44, 4),
        file.file_index => (44, 4),
        file.zcrx_ifq_idx => (44, 4),
        file.optlen => (44, 4),
        file.addr_len.addr_len => (44, 2),
        file.addr_len.__pad3 => (46, 2),
        file.write_stream => (44, 4),
        file.write_stream.write_stream => (44, 1),
        file.write_stream.__pad4 => (45, 3),
        addr3 => (48, 16),
        addr3.addr3.addr3 => (48, 8),
        addr3.addr3.__pad2 => (56, 8),
        addr3.attr => (48, 16),
        addr3.attr.attr_ptr => (48, 8),
        addr3.attr.attr_type_mask => (56, 8),
    });
    assert_eq!(align_of::<io_uring_sqe>(), 8);
}

#[test]
fn attr_pi_layout() {
    assert_layout!(io_uring_attr_pi, size = 32, {
        flags => (0, 2),
        app_tag => (2, 2),
        len => (4, 4),
        addr => (8, 8),
        seed => (16, 8),
        rsvd => (24, 8),
    });
}

#[test]
fn cqe_layout() {
    assert_layout!(io_uring_cqe, size = 16, {
        user_data => (0, 8),
        res => (8, 4),
        flags => (12, 4),
    });
}

#[test]
fn params_layout() {
    assert_layout!(io_uring_params, size = 120, {
        sq_entries => (0, 4),
        cq_entries => (4, 4),
        flags => (8, 4),
        sq_thread_cpu => (12, 4),
        sq_thread_idle => (16, 4),
        features => (20, 4),
        wq_fd => (24, 4),
        resv => (28, 12),
        sq_off => (40, 40),
        cq_off => (80, 40),
    });
    assert_layout!(io_sqring_offsets, size = 40, {
        head => (0, 4),
        tail => (4, 4),
        ring_mask => (8, 4),
        ring_entries => (12, 4),
        flags => (16, 4),
        dropped => (20, 4),
        array => (24, 4),
        resv1 => (28, 4),
        user_addr => (32, 8),
    });
    assert_layout!(io_cqring_offsets, size = 40, {
        head => (0, 4),
        tail => (4, 4),
        ring_mask => (8, 4),
        ring_entries => (12, 4),
        overflow => (16, 4),
        cqes => (20, 4),
        flags => (24, 4),
        resv1 => (28, 4),
        user_addr => (32, 8),
    });
}

#[test]
fn register_args_layout() {
    assert_layout!(io_uring_probe, size = 16, {
        last_op => (0, 1),
        ops_len => (1, 1),
        resv => (2, 2),
        resv2 => (4, 12),
        ops => (16, 0),
    });
    assert_layout!(io_uring_probe_op, size = 8, {
        op => (0, 1),
        resv => (1, 1),
        flags => (2, 2),
        resv2 => (4, 4),
    });
    assert_layout!(io_uring_rsrc_register, size = 32, {
        nr => (0, 4),
        flags => (4, 4),
        resv2 => (8, 8),
        data => (16, 8),
        tags => (24, 8),
    });
    assert_layout!(io_uring_rsrc_update, size = 16, {
        offset => (0, 4),
        resv => (4, 4),
        data => (8, 8),
    });
    assert_layout!(io_uring_rsrc_update2, size = 32, {
        offset => (0, 4),
        resv => (4, 4),
        data => (8, 8),
        tags => (16, 8),
        nr => (24, 4),
        resv2 => (28, 4),
    });
    assert_layout!(io_uring_files_update, size = 16, {
        offset => (0, 4),
        resv => (4, 4),
        fds => (8, 8),
    });
    assert_layout!(io_uring_getevents_arg, size = 24, {
        sigmask => (0, 8),
        sigmask_sz => (8, 4),
        min_wait_usec => (12, 4),
        ts => (16, 8),
    });
    assert_layout!(io_uring_restriction, size = 16, {
        opcode => (0, 2),
        arg => (2, 1),
        arg.register_op => (2, 1),
        arg.sqe_op => (2, 1),
        arg.sqe_flags => (2, 1),
        resv => (3, 1),
        resv2 => (4, 12),
    });
    assert_layout!(io_uring_buf, size = 16, {
        addr => (0, 8),
        len => (8, 4),
        bid => (12, 2),
        resv => (14, 2),
    });
    assert_layout!(io_uring_buf_reg, size = 40, {
        ring_addr => (0, 8),
        ring_entries => (8, 4),
        bgid => (12, 2),
        flags => (14, 2),
        resv => (16, 24),
    });
    assert_layout!(io_uring_sync_cancel_reg, size = 64, {
        addr => (0, 8),
        fd => (8, 4),
        flags => (12, 4),
        timeout => (16, 16),
        opcode => (32, 1),
        pad => (33, 7),
        pad2 => (40, 24),
    });
    assert_layout!(__kernel_timespec, size = 16, {
        tv_sec => (0, 8),
        tv_nsec => (8, 8),
    });
}

#[test]
fn opcodes_are_dense_up_to_last() {
    // The op table is declared against these numbers; PIPE is the last
    // opcode of Linux 6.18 and the 63rd.
    assert_eq!(IORING_OP_NOP, 0);
    assert_eq!(IORING_OP_READ, 22);
    assert_eq!(IORING_OP_PROVIDE_BUFFERS, 31);
    assert_eq!(IORING_OP_URING_CMD, 46);
    assert_eq!(IORING_OP_PIPE, 62);
    assert_eq!(IORING_OP_LAST, 63);
}

#[test]
fn region_and_wait_layouts() {
    assert_layout!(io_uring_region_desc, size = 64, {
        user_addr => (0, 8),
        size => (8, 8),
        flags => (16, 4),
        id => (20, 4),
        mmap_offset => (24, 8),
        __resv => (32, 32),
    });
    assert_layout!(io_uring_mem_region_reg, size = 32, {
        region_uptr => (0, 8),
        flags => (8, 8),
        __resv => (16, 16),
    });
    assert_layout!(io_uring_reg_wait, size = 64, {
        ts => (0, 16),
        min_wait_usec => (16, 4),
        flags => (20, 4),
        sigmask => (24, 8),
        sigmask_sz => (32, 4),
        pad => (36, 12),
        pad2 => (48, 16),
    });
    assert_layout!(io_uring_clone_buffers, size = 32, {
        src_fd => (0, 4),
        flags => (4, 4),
        src_off => (8, 4),
        dst_off => (12, 4),
        nr => (16, 4),
        pad => (20, 12),
    });
    assert_layout!(io_uring_sqe128, size = 128, {
        sqe => (0, 64),
        ext => (64, 64),
    });
    assert_layout!(io_uring_query_hdr, size = 40, {
        next_entry => (0, 8),
        query_data => (8, 8),
        query_op => (16, 4),
        size => (20, 4),
        result => (24, 4),
        resv => (28, 12),
    });
    assert_layout!(io_uring_query_opcode, size = 48, {
        nr_request_opcodes => (0, 4),
        nr_register_opcodes => (4, 4),
        feature_flags => (8, 8),
        ring_setup_flags => (16, 8),
        enter_flags => (24, 8),
        sqe_flags => (32, 8),
        nr_query_opcodes => (40, 4),
        pad => (44, 4),
    });
    assert_layout!(io_uring_cqe32, size = 32, {
        cqe => (0, 16),
        big_cqe => (16, 16),
    });
    assert_layout!(nvme_uring_cmd, size = 72, {
        opcode => (0, 1),
        nsid => (4, 4),
        metadata => (16, 8),
        addr => (24, 8),
        metadata_len => (32, 4),
        data_len => (36, 4),
        cdw10 => (40, 4),
        cdw15 => (60, 4),
        timeout_ms => (64, 4),
        rsvd2 => (68, 4),
    });
    // _IOWR('N', 0x80 + n, struct nvme_uring_cmd)
    let iowr = |nr: u32| {
        (3 << 30) | ((size_of::<nvme_uring_cmd>() as u32) << 16) | (u32::from(b'N') << 8) | nr
    };
    assert_eq!(NVME_URING_CMD_IO, iowr(0x80));
    assert_eq!(NVME_URING_CMD_ADMIN, iowr(0x82));
}
