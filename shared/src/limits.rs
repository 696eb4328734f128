//! Every bound the protocol enforces, in one place so each has a name and a test.

/// Largest frame body (bytes after the length prefix) anyone will send or accept.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

/// Ticket title, in bytes.
pub const MAX_TITLE_LEN: usize = 200;
/// Ticket description and comment text, in bytes.
pub const MAX_TEXT_LEN: usize = 16 * 1024;
/// Technician and requester names, hostnames and similar short labels, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Any free-form string inside a diagnostics snapshot, in bytes.
pub const MAX_SNAPSHOT_STRING_LEN: usize = 1024;
/// Entries in any one list inside a diagnostics snapshot (disks, interfaces, ...).
pub const MAX_SNAPSHOT_ITEMS: usize = 512;
/// Processes listed in each "top" table of a snapshot.
pub const TOP_PROCESSES: usize = 20;
/// Tickets returned by one list request.
pub const MAX_LIST_ITEMS: usize = 1000;
/// Comments and events carried with one ticket.
pub const MAX_TICKET_HISTORY: usize = 5000;
/// Uses one enrollment token may be given.
pub const MAX_TOKEN_USES: u32 = 10_000;
/// Longest lifetime of an enrollment token, in seconds (30 days).
pub const MAX_TOKEN_TTL_SECS: u64 = 30 * 24 * 3600;
/// Roles one technician may hold (there are only five).
pub const MAX_ROLES: usize = 5;
/// A screenshot an employee attaches to their own ticket: it travels in one
/// frame, so the "Get help" window scales the picture down until it fits.
pub const MAX_ATTACHED_SCREENSHOT_LEN: usize = 960 * 1024;
/// Tickets one "My tickets" request returns.
pub const MAX_MY_TICKETS: u32 = 50;
/// How long the employee has to allow a technician's screenshot; no answer
/// is a refusal. The relay and the CLI wait longer than this for the first
/// frame of a screenshot, so the refusal, not a timeout, is what arrives.
pub const SCREENSHOT_CONSENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
