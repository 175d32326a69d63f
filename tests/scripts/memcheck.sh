#!/usr/bin/env bash
# Runs the integration tests under valgrind's memcheck, a test binary per
# core at a time (MEMCHECK_JOBS), and fails if any reports an error or
# does not finish within MEMCHECK_TIMEOUT seconds (900). Installs valgrind
# if it is missing.
#
#   tests/scripts/memcheck.sh [TEST_BINARY_NAME...]   (default: all)
#
# Memcheck sees no write the kernel makes through io_uring: memory that only
# the kernel filled stays "uninitialised" to it. Tests that read such memory
# (a read into a vector's spare capacity, hyper parsing what a recv wrote)
# cannot run under it, and neither can a few that valgrind itself cannot
# carry. Those are skipped below, each with its reason printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/scripts/skips.sh
if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi
cargo build -q -p uring-tests --tests
# A test under memcheck runs many times slower: its watchdog waits longer.
export URING_TEST_WATCHDOG_SECS="${URING_TEST_WATCHDOG_SECS:-600}"
limit="${MEMCHECK_TIMEOUT:-900}"

# The binaries that take longest under memcheck (a minute to five each,
# where most take seconds), longest first.
slow_binaries=(attacks_kernel_reads liburing_cases_ops attacks_ring_memory prop_ops attacks_waits
    attacks_buf_ring_audit attacks_queue_edges liburing_cases_more liburing_cases_fourth
    attacks_tokio_drivers_gaps_audit attacks_net_tokio liburing_cases_sixth)

kernel_wrote="reads memory only the kernel wrote, which memcheck takes for uninitialised"
one_thread="valgrind runs one thread at a time"
full_socket="under valgrind the test runs slowly enough for the kernel to free room in the socket it filled (its bytes move on to the peer) before its send, which then does not wait as the test needs (seen with two binaries under memcheck at once); the plain run checks it"
declare -A skip_binary=(
    [net_http]="hyper $kernel_wrote"
    [liburing_cases_bufs]="its receives read buffer-ring buffers $kernel_wrote, and its senders, receivers and connecting clients are threads that do not run while the ring waits in io_uring_enter ($one_thread)"
    [examples_as_run]="it runs the release examples as child processes, which memcheck does not follow: under it the suite would check nothing but its own harness"
    [attacks_event_loop_gaps_audit]="its tests compare bytes and addresses $kernel_wrote, their peers are threads that do not run while the reactor waits in io_uring_enter ($one_thread), and two copy gigabytes"
    [examples_gaps_audit]="it runs the release examples as child processes, which memcheck does not follow: under it the suite would check nothing but its own harness"
    [go_uring_cases_second]="it runs go-uring's suites as go-uring does: a reactor per ring on threads of their own, queued and cancelled from the test's thread and a third one, which do not run while the reactors wait in io_uring_enter ($one_thread: its tests ran past the time limit); and its vectored reads compare bytes $kernel_wrote"
    [reactor_remote_join]="each test runs a reactor on a thread of its own, fed and joined from other threads, which do not run while the reactor waits in io_uring_enter ($one_thread); the handles' shared state is the same code as reactor_join's, which runs under memcheck"
    [monoio_compio_cases]="most of its tests compare bytes reads and receives placed in vectors' spare capacity, $kernel_wrote, and its peers and remote reactors are threads that do not run while a ring waits in io_uring_enter ($one_thread: one test ran past the time limit alone)"
    [net_read_ring]="in two runs of this stop its first test had not finished after ten minutes under valgrind (its peers are threads that seldom run while the reactor waits in io_uring_enter: $one_thread); the plain run checks it"
    [reactor_blocking]="its jobs run on the blocking pool's threads, which do not run while the reactor waits in io_uring_enter for them ($one_thread: the first test hung); the pool's state is a mutex and a condition variable, which the plain run and the join tests check"
    [thread_races]="its threads must run while another waits in io_uring_enter, which they never do under valgrind ($one_thread); tests/scripts/tsan.sh runs it under ThreadSanitizer"
)
# binary -> "test|reason" lines
declare -A skip_tests=(
    [runtime_parity_audit]="tokio_uring_file_lifecycle_through_reactor_ops|$kernel_wrote
read_exact_and_write_all_at_offsets_as_loops_over_short_transfers|$kernel_wrote
reads_and_writes_at_the_file_position_move_it_as_read_2_does|$kernel_wrote
a_net_read_dropped_after_the_kernel_completed_it_loses_its_bytes|$kernel_wrote
tokio_uring_stream_readv_writev_over_the_shared_descriptor|$kernel_wrote
monoio_tcp_echo_on_the_reactor_s_own_executor|$kernel_wrote
offsets_and_lengths_past_loff_t_come_back_as_errnos|$kernel_wrote
a_udp_socket_s_shared_descriptor_takes_a_zero_copy_send|$kernel_wrote
monoio_cancel_select_keeps_the_buffer_and_every_byte|$one_thread: the peer's writer thread, which sleeps between its writes, seldom runs while the reactor waits in io_uring_enter"
    [tokio_uring_cases]="driver_completion_overflow_incoming|$kernel_wrote
fs_file_basic_read|$kernel_wrote
fs_file_cancel_read|$kernel_wrote
fs_file_from_fd_stream_positions|$kernel_wrote
fs_file_rename|$kernel_wrote
fs_file_vectored_read|$kernel_wrote
net_over_ipv6_loopback|$kernel_wrote
tcp_from_std|$kernel_wrote
tcp_listener_dropped_accept_loses_no_connection|$kernel_wrote
tcp_stream_echo_write_all_and_shutdown|$kernel_wrote
tcp_stream_set_nodelay_and_shutdown|$kernel_wrote
unix_listener_and_stream_by_path|$kernel_wrote
fs_file_write_all_into_a_pipe_with_a_slow_reader|$one_thread: the pipe's reader thread does not run while the reactor waits in io_uring_enter"
    [reactor_splice]="a_tcp_stream_relayed_through_a_pipe|$one_thread: the peers' writer and reader threads do not run while the reactor waits in io_uring_enter for its splices (the test hung)"
    [reactor_fs_exact]="a_read_into_a_slice_mut_keeps_the_bytes_before_it|$kernel_wrote
read_exact_at_past_the_end_is_unexpected_eof_with_the_bytes_kept|$kernel_wrote
read_exact_at_reads_again_past_short_reads|$kernel_wrote"
    [io_uring_crate_cases]="epoll_test_race|$one_thread: the writer thread does not run while the ring waits in io_uring_enter for its epoll wait"
    [fs_timers_docs_claims_audit]="a_file_has_no_cursor_reads_and_writes_leave_the_offset_alone|$kernel_wrote
a_file_s_ops_run_on_the_reactor_of_its_handle|$kernel_wrote
a_socket_takes_position_0_alone|$kernel_wrote
create_new_create_and_custom_flags_over_links_and_tmpfiles_as_std|$kernel_wrote
random_writes_and_reads_at_offsets_match_std_file_ext|$kernel_wrote
read_at_fills_from_the_start_up_to_bytes_total_and_write_at_sends_bytes_init|$kernel_wrote
write_all_at_writes_again_what_a_short_write_left_on_a_pipe|$one_thread: the thread that reads the pipe does not run while the reactor waits in io_uring_enter"
    [attacks_threads_gaps_audit]="remotes_racing_the_reactor_s_drop_run_or_refuse_each_closure_once|$one_thread: the sending threads and the thread that drops the reactor seldom interleave, and the senders give up before the reactor refuses them"
    [attacks_chains_gaps_audit]="a_drain_in_a_reactor_ops_sqe_is_cleared_and_holds_nothing|$one_thread: the timer thread that ends the reactor's run does not run while the reactor waits in io_uring_enter"
    [liburing_cases_eighth]="msg_ring_from_a_remote_thread_reaches_a_waiting_ring|$one_thread: the sending thread does not run while the target ring waits in io_uring_enter
msg_ring_sync_post_wakes_a_remote_waiter|$one_thread: the waiting thread and the poster do not interleave as the test needs"
    [attacks_tokio_gaps_audit]="a_driver_moved_between_tasks_still_hears_remotes_and_completions|$kernel_wrote
a_future_and_a_stream_polled_in_one_task_complete_in_another|$kernel_wrote
async_read_and_flush_repolled_with_another_waker_wake_only_the_last|$kernel_wrote
futures_and_streams_repolled_with_another_waker_wake_only_the_last|$kernel_wrote
hyper_answers_pipelined_and_dripped_requests_in_order|hyper $kernel_wrote
two_reactors_driven_by_one_local_set_move_bytes_between_them|$kernel_wrote
wakers_kept_by_pending_ops_are_released_at_completion_or_drop|under valgrind the 50 000-byte send meant to wait behind a filled socket completes within the test's 5 ms round (the slowed run lets the kernel's TCP buffers take it), so the flush it checks is not pending; the plain run checks it"
    [attacks_time_gaps_audit]="set_deadline_on_a_udp_socket_sends_and_takes_no_datagram_when_it_refuses_or_cuts|$kernel_wrote
set_deadline_on_each_half_of_a_tcp_stream_moves_no_byte_when_it_refuses_or_cuts|$one_thread: the peer's sending thread does not run while the reactor waits in io_uring_enter"
    [attacks_zero_copy_gaps_audit]="a_reactor_send_cancelled_timed_out_or_forgotten_between_its_completions|$one_thread, and its 20 to 60 ms windows do not hold under valgrind: a CI rehearsal saw it fail once, and pass in the run before"
    [attacks_reactor_buf_ring_gaps_audit]="a_one_buffer_group_wraps_through_re_arms|its 72,000 receives, each re-armed, take longer than the time limit under valgrind
a_reactor_dropped_under_an_armed_stream_leaves_later_bytes_in_the_socket|$kernel_wrote
a_ring_buf_truncated_sliced_changed_and_read_into_sends_exactly_its_bytes|$kernel_wrote
async_read_byte_by_byte_over_a_one_buffer_ring_loses_nothing|$kernel_wrote"
    [attacks_multishot_gaps_audit]="a_reactor_receive_stream_on_a_cq_of_two_loses_no_byte_and_ends_once|$one_thread: the writer thread does not run while the reactor waits in io_uring_enter"
    [attacks_reactor_futures_gaps_audit]="a_deadline_does_not_cut_an_open_blocked_in_io_wq_but_a_cancel_does|$one_thread: the thread that opens the FIFO's other end does not run while the reactor waits in io_uring_enter
an_open_future_queued_behind_a_busy_worker_ends_at_its_drop|$one_thread: the thread that opens the FIFO's other end does not run while the reactor waits in io_uring_enter
a_resolved_read_future_polled_again_stays_pending_and_never_wakes|$kernel_wrote
a_task_and_a_main_future_that_panic_holding_reads_lose_no_other_completion|$kernel_wrote
run_until_serves_ops_while_its_future_waits_and_returns_only_with_it|$one_thread: the main thread that writes the pipes, fires the futures and shuts the reactor down does not run while the reactor's thread waits in io_uring_enter"
    [attacks_tokio_drivers_gaps_audit]="many_chain_spinners_at_a_full_cq_starve_neither_a_third_reactor_nor_tokio|under valgrind each callback takes tens of times longer, past the test's bounds of one and two seconds on the other tasks' progress
one_chain_spinners_on_one_local_set_starve_neither_each_other_nor_a_third_nor_tokio|under valgrind each callback takes tens of times longer, past the test's bounds of one and two seconds on the other tasks' progress
async_reads_after_the_end_of_stream_keep_ending_and_leave_nothing_in_flight|$kernel_wrote"
    [liburing_cases_ninth]="reg_wait_refused_wait_does_not_submit|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer"
    [attacks_reactor_fs_gaps_audit]="opens_of_a_fifo_do_not_wait_as_openat_does_unless_forced_to_a_worker|$kernel_wrote"
    [attacks_guards_gaps_audit]="a_forgotten_remote_keeps_run_serving_until_a_shutdown|$one_thread: the reactor's own thread, which the test watches from the main one, and the main thread that shuts it down seldom interleave while the reactor waits in io_uring_enter"
    [attacks_multishot_overflow_gaps_audit]="a_reactor_poll_stream_ends_only_once_the_kernel_ended_its_poll|$one_thread: the writer thread does not run while the reactor waits in io_uring_enter"
    [attacks_ring_memory_gaps_audit]="registered_wait_slots_keep_their_arguments_across_resizes|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer"
    [attacks_net_gaps_audit]="deadlines_at_the_last_instant_never_fire|$one_thread: the peer's writer thread does not run while the reactor waits in io_uring_enter
write_all_cut_after_a_prefix_reports_the_error_alone|$one_thread: the peer's reader thread does not run while the reactor waits in io_uring_enter
descriptor_passing_past_its_deadlines_gives_everything_back|$kernel_wrote
owned_buffer_receives_racing_their_deadline_lose_and_repeat_no_byte|$kernel_wrote
udp_datagrams_at_and_past_their_largest_size|$kernel_wrote"
    [net_reactor]="udp_datagrams|$kernel_wrote
a_plain_std_client_against_an_incoming_loop|valgrind runs one thread at a time, and the std client never runs while the loop waits in io_uring_enter"
    [reactor_ops]="futures_resolve_with_the_result_and_the_buffer|$kernel_wrote
a_vectored_read_fills_its_buffers_in_turn|$kernel_wrote
descriptors_pass_through_a_unix_socket|$kernel_wrote
descriptors_without_room_are_closed_by_the_kernel|$kernel_wrote"
    [attacks_new_apis]="a_forgotten_send_keeps_its_descriptors_open|$kernel_wrote
a_pidfd_record_leaves_no_descriptor_behind|$kernel_wrote
a_reactor_ignores_tag_completions_of_its_ring|$kernel_wrote
credentials_and_rights_in_one_message|$kernel_wrote
descriptors_past_the_room_leave_nothing_behind|$kernel_wrote
descriptors_that_cannot_be_sent_come_back_open|$kernel_wrote
dropped_descriptor_futures_release_exactly_what_they_own|$kernel_wrote
vectored_ops_with_no_or_too_many_buffers|$kernel_wrote
vectored_reads_mark_only_what_the_kernel_wrote|$kernel_wrote
a_deadline_holds_across_signals_and_a_masked_wait_ends_at_one|its threads signal each other in a loop, and valgrind itself crashed once delivering those signals (one run in many; its own bug, not a report about the program)"
    [reactor_op_attacks]="a_vector_with_spare_capacity_grows_only_by_what_was_written|$kernel_wrote"
    [net_attacks]="deadlines_in_the_past_the_far_future_and_changed_under_a_forgotten_read|$kernel_wrote
zero_length_and_oversized_buffers|$kernel_wrote (its read into a buffer over 4 GiB now succeeds, at most MAX_RW_COUNT bytes, and the test compares what the kernel put there)
tokio_io::a_pending_poll_read_never_writes_the_caller_s_buffer|$kernel_wrote
tokio_io::poll_shutdown_then_reads|$kernel_wrote
tokio_io::bytes_reported_written_are_not_cancelled_by_dropping_the_stream|$one_thread, and the peer's reader thread seldom runs while the reactor waits: the send outlasts the test's wait
accepts_raced_and_dropped_in_a_loop_lose_no_connection|$one_thread: the connecting thread does not run while the reactor waits in io_uring_enter
tokio_io::bytes_reported_written_reach_the_peer_after_poll_shutdown|$one_thread, and the peer's reader thread never drains the socket while the reactor waits"
    [ring_attacks_more]="a_zero_copy_send_cancelled_half_way_keeps_its_buffer_until_the_notification|$one_thread, and the peer's reader never drains the socket while the scope waits
restrictions_that_forbid_cancels_keep_a_scope_until_its_read_ends|$one_thread: the writer thread runs seldom while the scope waits, which takes minutes
timeout_removals_and_updates_by_raw_tag_settle_each_timeout_once|a 1 ms multishot timeout overruns the CQ while valgrind slows its reader, and ends before the update that names it
resizes_the_kernel_cannot_make_are_errors_and_wait_regions_survive_them|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer"
    [attacks_reactor_lifecycle]="a_dropped_recv_from_takes_no_datagram|$kernel_wrote
a_future_of_one_reactor_awaited_in_another_s_run_resolves_once|$kernel_wrote
a_reactor_dropped_while_another_reads_the_same_socket_takes_no_byte|$kernel_wrote
deadlines_that_fire_as_receives_complete_lose_no_byte|$kernel_wrote
a_pending_poll_write_takes_nothing_of_its_buffer|$one_thread, and the peer's reader thread seldom runs while the reactor waits"
    [liburing_cases]="min_timeout_longer_than_the_timeout_sees_every_completion|$one_thread: the writer thread does not run while the wait holds the CPU
min_timeout_returns_after_the_minimum_wait_with_what_arrived|$one_thread: the writer thread does not run while the wait holds the CPU
msg_ring_to_a_remote_ring|$one_thread: the remote ring's thread does not run while the sender waits"
    [attacks_fast_scope_flags]="zero_copy_sends_cancelled_while_they_wait_never_end_the_read|under memcheck, after the suite's earlier tests, Linux 6.18 runs the zero-copy send hard-linked after a cancelled read on the filled socket (its queued bytes past its send buffer's size) rather than leave it waiting; its notification then waits for the peer, which reads only after the scope, and the scope's end waits for it until the watchdog. Natively the send waits, as the test asserts"
    [attacks_op_timing]="reactor_receives_cut_by_their_deadline_write_nothing_after|$kernel_wrote"
    [go_uring_cases]="send_recv|$one_thread: the receiving thread's ring waits while the sender's thread cannot run"
    [bad_input]="udp_deadlines_in_the_past_fail_at_once_and_far_ones_do_not_fire|$kernel_wrote
tcp_deadlines_in_the_past_fail_at_once|$kernel_wrote"
    [attacks_chains_scopes]="a_minimum_wait_longer_than_the_timeout_does_not_outlast_it|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer"
    [net_unix]="accepts_dropped_by_a_biased_select_lose_no_connection|$one_thread: the connecting thread does not run while the reactor waits in io_uring_enter"
    [attacks_recent]="tokio_traits_on_a_unix_stream_report_a_gone_peer_and_past_deadlines|$kernel_wrote
a_tokio_write_dropped_mid_send_still_delivers_what_it_reported|$one_thread, and the peer's reader thread seldom runs while the reactor waits"
    [liburing_cases_third]="wakeup_hang_a_waiter_on_another_thread_is_woken|$one_thread: the waking thread cannot run while the waiter is in io_uring_enter
reg_wait_registered_wait_arguments|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer
reg_wait_a_firing_timeout_op_does_not_end_a_registered_wait|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer"
    [reactor_remote]="a_remote_queues_from_another_thread_and_the_callback_runs_on_the_reactor_thread|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
a_remote_op_id_cancels_its_own_op_from_any_thread_and_nothing_else|$one_thread: the threads that queue and cancel cannot run while the reactors wait in io_uring_enter
run_takes_the_job_of_a_last_remote_dropped_right_after_sending_it|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
run_serves_remotes_until_the_last_clone_is_dropped|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
many_threads_send_many_ops_and_none_is_lost_or_repeated|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
jobs_from_one_thread_run_in_order|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
a_remote_cancels_an_accept_by_its_id|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
a_stale_id_sent_by_a_remote_cancels_nothing|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
a_deadline_sent_by_a_remote_cancels_the_op_in_time|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
a_remote_spawns_a_task_on_the_reactor_thread|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
a_shut_down_reactor_refuses_remotes_and_drops_their_closures_unrun|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
run_until_serves_remotes_while_its_future_waits|$one_thread: the sending thread cannot run while the reactor waits in io_uring_enter
run_ends_whenever_the_last_remote_goes|$one_thread: the dropping thread cannot run while the reactor waits in io_uring_enter"
    [bad_input_audit]="the_last_wait_slot_times_the_wait_by_its_own_arguments|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer
wait_regions_registered_twice_or_too_late|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer"
    [attacks_buf_ring_gaps_audit]="a_send_bundle_into_a_full_socket_waits_for_room_and_lends_every_buffer_once|$one_thread: the reader thread that makes room does not run while the scope waits in io_uring_enter"
    [ops_syscall_parity_audit]="futex_ops_match_futex2_calls|valgrind does not implement the futex2 calls the ops are compared with (ENOSYS)
openat2_matches_openat2|valgrind does not implement openat2(2), which the op is compared with (ENOSYS)
waitid_matches_waitid|valgrind does not implement the pidfd call the comparison needs (ENOSYS)"
    [attacks_register_gaps_audit]="oversized_and_empty_file_tables_are_refused_and_leave_no_table|valgrind reports a lower RLIMIT_NOFILE than the kernel applies (it keeps descriptors of its own above the limit it shows)"
    [attacks_ring_gaps_audit]="the_last_registered_wait_slot_waits_with_its_own_arguments|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer
a_wait_region_too_large_to_track_is_refused_and_leaves_the_ring_as_it_was|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer"
    [attacks_ring_audit]="two_scopes_posting_into_each_other_lose_and_repeat_nothing|$one_thread: each thread waits in io_uring_enter for the other's message, which the other cannot post meanwhile"
    [attacks_reactor_source_audit]="a_deadline_armed_after_a_worker_s_open_ends_neither_it_nor_the_next_op|$one_thread: the FIFO's writer thread does not run while the reactor waits
tokio_reads_through_a_ring_over_a_full_cq_see_every_byte_and_no_false_end|$one_thread: the writer thread does not run while the reactor waits
the_wake_up_poll_ended_by_a_full_cq_is_armed_again|$one_thread: the waking thread does not run while the reactor waits"
    [attacks_reactor_driver_source_audit]="ops_completing_at_once_from_callbacks_or_jobs_leave_tokio_s_other_tasks_room|timed: tokio looks at its timers once every 61 polls of a task that keeps waking itself, and under valgrind each of the driver's polls (128 rounds of submit and reap) takes milliseconds, so the timer the test waits on fires past its bound (natively within a few)"
    [attacks_zero_copy_source_audit]="a_peer_reset_frees_the_pages_of_a_send_the_scope_waits_for|$one_thread: the resetting thread does not run while the scope waits in io_uring_enter"
    [attacks_fd_passing_source_audit]="a_multishot_receive_without_payload_room_ends_with_the_descriptors|$kernel_wrote
datagrams_cut_short_keep_all_their_descriptors|$kernel_wrote
descriptors_a_receiver_refuses_come_back_open|$kernel_wrote
messages_of_no_bytes_pass_descriptors_only_as_datagrams|$kernel_wrote"
    [attacks_register_source_audit]="deadlines_on_a_registered_clock_end_at_their_instant_or_at_a_posted_completion|$one_thread: the posting thread does not run while the ring waits an hour in io_uring_enter"
    [attacks_restrictions_source_audit]="a_reactor_whose_ring_refuses_its_wakeup_poll_still_serves_reads_and_remotes|$one_thread: the writer and the remote's thread do not run while the reactor whose ring allows its wake-up poll waits in io_uring_enter
a_reactor_whose_ring_refuses_its_wakeup_poll_does_not_spin_while_it_waits|$one_thread: the late writer and the remote's thread waited for valgrind's lock while the reactor waited in io_uring_enter (a CI rehearsal hung on it for 8 minutes); it also measures CPU time, which valgrind's run does not keep"
    [attacks_net_orphans]="a_waker_dropped_by_the_stream_may_shut_the_reactor_down|$full_socket
nothing_is_sent_once_the_write_deadline_has_passed|$full_socket"
    [attacks_net_listener_source_audit]="a_write_shutdown_under_a_waiting_receive_lets_the_answer_in|$kernel_wrote
datagram_receives_give_what_std_s_recv_from_gives|$kernel_wrote
hyper_answers_pipelined_requests_in_order_then_closes_cleanly|hyper $kernel_wrote
hyper_connection_reset_under_a_waiting_send_is_closed_and_the_server_goes_on|hyper $kernel_wrote
hyper_connections_cut_mid_request_are_closed_and_the_server_goes_on|hyper $kernel_wrote
hyper_reads_requests_spanning_many_ring_buffers|hyper $kernel_wrote"
    [attacks_kernel_lengths_source_audit]="multishot_name_rooms_of_every_size_hold_the_sender_cut_to_the_room|valgrind checks the whole sun_path of an autobind address, of which the kernel reads only the family
senders_of_every_unix_address_length_read_back_as_std_reads_them|valgrind checks the whole sun_path of an autobind address, of which the kernel reads only the family; and it $kernel_wrote
udp_datagrams_of_0_1_and_65507_bytes_into_rooms_around_their_size|$kernel_wrote"
    [attacks_op_args_source_audit]="waitid_of_every_id_type_writes_only_the_siginfo_fields_it_names|valgrind does not know pidfd_open (ENOSYS), which the test needs to set up"
    [attacks_reactor_ops_source_audit]="vectored_reads_lend_each_vec_s_capacity_and_grow_its_length_only_by_what_it_got|$kernel_wrote
reads_of_a_file_that_shrinks_and_grows_fill_only_what_they_report|$kernel_wrote
datagrams_into_capacities_0_1_full_and_spare_take_one_datagram_each|$kernel_wrote
vectors_larger_than_4_gib_take_exactly_what_was_there|$kernel_wrote
descriptors_received_with_the_records_the_op_makes_room_for_all_arrive|$kernel_wrote
descriptors_received_on_a_timestamping_socket_keep_the_room_made_for_them|$kernel_wrote
statx_of_files_removed_meanwhile_gives_a_whole_status_or_nothing|$one_thread: the thread that keeps replacing the file runs in long slices, and the 300 statx calls never find the name there"
    [readme_claims_audit]="a_wait_region_page_has_63_slots_and_never_its_last_64_bytes|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer"
    [attacks_scope_source_audit]="a_ring_that_refuses_every_cancel_keeps_its_scope_until_the_read_ends|$one_thread: the writer thread that ends the read does not run while the scope waits"
    [liburing_cases_ops]="poll_race_many_receives_racing_the_writer_all_complete|$one_thread: the writer thread does not run while the ring waits in io_uring_enter
msg_ring_fd_passes_to_a_ring_of_another_thread|$one_thread: the receiving ring's thread does not run while the sender waits
cancel_race_cancels_on_another_ring_find_nothing|$one_thread: the other ring's thread does not run while this one waits"
    [waits]="a_wait_takes_its_signal_mask_for_its_length_and_ends_at_a_signal_it_lets_through|valgrind aborts when a signal arrives during io_uring_enter with a signal mask
registered_wait_arguments_end_waits_by_slot|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer
a_registered_slot_s_signal_mask_holds_for_its_waits_and_goes_when_taken_away|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer, and aborts when a signal arrives during io_uring_enter with a signal mask"
    [op_docs_claims_audit]="reactor_send_to_and_recv_from_complete_with_the_byte_count|$kernel_wrote"
    [reactor_docs_claims_audit]="a_read_grows_a_vec_and_sets_a_ring_buf_to_its_count|$kernel_wrote
udp_peer_addr_receives_and_cuts_as_documented|$kernel_wrote"
    [attacks_recent_apis_gaps_audit]="cancels_from_many_threads_racing_completions_lose_and_repeat_no_callback|$one_thread: the reactor runs on a thread of its own, and the threads that queue and cancel through its remotes do not run while it waits in io_uring_enter
stale_remote_op_ids_never_cancel_the_ops_reusing_their_slots|$one_thread: the reactor runs on a thread of its own, and the threads that queue and cancel through its remotes do not run while it waits in io_uring_enter
ids_after_a_shutdown_and_after_the_reactor_is_gone_are_errors_not_panics|$one_thread: the reactor runs on a thread of its own, and the threads that queue and cancel through its remotes do not run while it waits in io_uring_enter
a_panicking_callback_leaves_the_other_ids_cancellable_once_run_resumes|$one_thread: the reactor runs on a thread of its own, and the threads that queue and cancel through its remotes do not run while it waits in io_uring_enter
a_callback_cancels_what_it_queued_through_a_remote|$one_thread: the reactor runs on a thread of its own, and the threads that queue and cancel through its remotes do not run while it waits in io_uring_enter
cancel_queued_reaches_a_reactor_driven_by_tokio|$one_thread: the reactor runs on a thread of its own, and the threads that queue and cancel through its remotes do not run while it waits in io_uring_enter
a_forgotten_remote_keeps_run_serving_until_a_shutdown_and_ids_still_cancel|$one_thread: the reactor runs on a thread of its own, and the threads that queue and cancel through its remotes do not run while it waits in io_uring_enter
thousands_of_ops_with_deadlines_and_cancels_each_get_their_own_answer|$one_thread: the reactor runs on a thread of its own, and the threads that queue and cancel through its remotes do not run while it waits in io_uring_enter"
    [attacks_runtime_pitfalls_audit]="foyer_1286_receives_dropped_at_once_never_write_memory_reused_after|$one_thread: the writer thread sends nothing while the receives wait in io_uring_enter"
    [attacks_fs_join_gaps_audit]="append_writes_ignore_positions_and_vectors_past_iov_max_are_einval|$kernel_wrote
buffers_past_2_gib_are_clamped_and_write_all_at_finishes_them|$kernel_wrote
directories_fifos_and_device_files_through_file|$kernel_wrote
write_all_at_at_the_size_limit_and_next_to_i64_max_as_std|$kernel_wrote"
    [attacks_unsafe_ops_review_audit]="every_select_buffer_form_writes_its_own_bytes_into_the_sqe|$kernel_wrote"
    [attacks_unsafe_reactor_review_audit]="bytes_read_ahead_land_in_ring_bufs_vecs_and_boxes_as_a_kernel_read_would|$kernel_wrote
fd_passing_and_address_ops_refused_after_their_sqe_was_built_give_everything_back|$kernel_wrote
unix_addresses_read_through_a_borrowed_std_socket_leave_it_open|$kernel_wrote"
    [reactor_fs]="a_file_from_a_tokio_task|$kernel_wrote
vectored_and_whole_writes|$kernel_wrote
writes_and_reads_at_offsets_match_what_std_reads|$kernel_wrote"
    [readme_safety_claims_second_audit]="the_reactors_recv_drops_msg_trunc_on_streams_and_datagrams|$kernel_wrote"
    [liburing_cases_tenth]="reg_wait_test_offsets_on_an_overallocated_user_region|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer
reg_wait_test_region_buffer_types|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer"
    [ring_docs_claims_audit]="ring_regions_of_lengths_no_mapping_holds_are_error_values|valgrind answers an mmap of a length past the address space with another errno than the kernel's ENOMEM"
    [attacks_scope_resize_waits_gaps_audit]="a_masked_slot_wait_ended_by_a_signal_with_a_completion_there_returns_it|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer, and valgrind aborts, or lets the signal by, when a signal arrives during io_uring_enter with a signal mask
a_scope_waits_by_slot_and_mask_across_its_resize|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer
a_slot_s_mask_and_times_are_kept_by_each_other_s_setter|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer, and valgrind aborts, or lets the signal by, when a signal arrives during io_uring_enter with a signal mask
a_timeout_op_firing_ends_a_masked_slot_wait_short_and_an_unmasked_one_goes_on|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer
masks_at_the_region_s_last_slot_and_past_it|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer, and valgrind aborts, or lets the signal by, when a signal arrives during io_uring_enter with a signal mask
the_wait_after_a_slot_s_minimum_wait_keeps_its_mask|valgrind reads a registered wait's offset (IORING_ENTER_EXT_ARG_REG) as a pointer, and valgrind aborts, or lets the signal by, when a signal arrives during io_uring_enter with a signal mask"
)

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    mapfile -t names < <(ls tests/tests/*.rs | xargs -n1 basename | sed 's/\.rs$//')
fi
# The binaries that take longest under valgrind start first, so that the
# last ones to finish are short and both workers stay busy to the end.
slow_first=("${slow_binaries[@]}")
ordered=()
for name in "${slow_first[@]}"; do
    if printf '%s\n' "${names[@]}" | grep -qxF "$name"; then ordered+=("$name"); fi
done
for name in "${names[@]}"; do
    if ! printf '%s\n' "${slow_first[@]}" | grep -qxF "$name"; then ordered+=("$name"); fi
done

# Every test binary's path, from one build: NAME-HASH -> NAME.
declare -A executable=()
while read -r path; do
    base=$(basename "$path")
    executable[${base%-*}]=$path
done < <(cargo test -q -p uring-tests --tests --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')

# Runs one binary under memcheck and prints its report; fails if it failed.
check() { # NAME
    local name=$1 bin=${executable[$1]:-} failed=0 status=0 log started=$SECONDS
    if [ -z "$bin" ]; then
        echo "memcheck $name: FAILED (no test binary of that name was built)"
        return 1
    fi
    # Exact: a skipped name is the whole name of one test, not a part of others'.
    local args=(--test-threads=1 -q --exact)
    if [ -n "${skip_tests[$name]:-}" ]; then
        local listed
        listed=$("$bin" --list 2>/dev/null | sed -n 's/: test$//p')
        add_skips memcheck "$name" "$listed" "${skip_tests[$name]}"
    fi
    log=$(mktemp)
    timeout -k 10 "$limit" valgrind --quiet --error-exitcode=99 --leak-check=no \
        "$bin" "${args[@]}" >"$log" 2>&1 || status=$?
    if [ "$status" -eq 0 ]; then
        echo "memcheck $name: 0 errors ($((SECONDS - started)) s)"
    else
        local why
        case $status in
        99) why="memcheck found errors" ;;
        124 | 137) why="did not finish within ${limit} s" ;;
        *) why="exit status $status" ;;
        esac
        echo "memcheck $name: FAILED ($why, after $((SECONDS - started)) s)"
        # The panics first (a child process's message sits above its
        # parent's backtraces, which the tail alone would cut off).
        grep -A4 "panicked at" "$log" | head -60 || true
        tail -40 "$log"
        failed=1
    fi
    rm -f "$log"
    return $failed
}

# MEMCHECK_JOBS binaries at once (the machine's cores by default): valgrind
# runs each program on one core, so a second binary beside it takes nothing
# from it. Each report prints whole, when its binary is done.
workers="${MEMCHECK_JOBS:-$(nproc)}"
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
declare -A running=()
failed=0
# Waits for one running binary and prints its report.
reap() {
    local pid status=0
    wait -n -p pid "${!running[@]}" || status=$?
    cat "$reports/${running[$pid]}"
    if [ "$status" -ne 0 ]; then failed=1; fi
    unset "running[$pid]"
}
for name in "${ordered[@]}"; do
    if [ -n "${skip_binary[$name]:-}" ]; then
        echo "memcheck $name: skipped: ${skip_binary[$name]}"
        continue
    fi
    while [ ${#running[@]} -ge "$workers" ]; do reap; done
    check "$name" >"$reports/$name" 2>&1 &
    running[$!]=$name
done
while [ ${#running[@]} -gt 0 ]; do reap; done
exit $failed
