//! Technician roles and the table of what each may do. The relay consults this
//! table for every technician request.

use crate::transfer::AttachmentKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    L1,
    L2,
    L3,
    Approver,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::L1, Role::L2, Role::L3, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::L1 => "l1",
            Role::L2 => "l2",
            Role::L3 => "l3",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`; use l1, l2, l3, approver or admin"))
    }
}

/// Everything a technician can ask the relay to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ViewTickets,
    CreateTicket,
    CommentTicket,
    AssignTicket,
    EscalateTicket,
    ChangeTicketStatus,
    ViewAgents,
    RunDiagnostics,
    PullLogs,
    TakeScreenshot,
    AttachScript,
    ApproveScript,
    RunScript,
    RegisterTechnician,
    CreateEnrollmentToken,
    ViewAudit,
    /// Export the roster to sign, publish signed rosters and key rotations.
    ManageOrg,
    RemoveTechnician,
    SetTechnicianRoles,
    RemoveAgent,
    ListTokens,
    RevokeToken,
    ChangeTicketPriority,
    /// Put a new SLA policy in force.
    ManageSla,
    /// Webhooks, technicians' and tiers' email addresses.
    ManageNotifications,
    /// Write knowledge base articles and new versions of them.
    WriteArticles,
    /// Retire a knowledge base article for good.
    RetireArticles,
}

/// The permission table. Support tiers are cumulative (an L3 may do what an
/// L2 may); `approver` is deliberately narrow so approving scripts can be
/// given to someone who does not work tickets; `admin` may do everything.
pub fn roles_allowed(action: Action) -> &'static [Role] {
    use Action::*;
    use Role::*;
    match action {
        ViewTickets | ViewAgents => &[L1, L2, L3, Approver, Admin],
        CreateTicket | CommentTicket | AssignTicket | EscalateTicket | ChangeTicketStatus
        | ChangeTicketPriority | RunDiagnostics => &[L1, L2, L3, Admin],
        PullLogs | TakeScreenshot | AttachScript | RunScript => &[L2, L3, Admin],
        ApproveScript => &[Approver, Admin],
        RegisterTechnician | CreateEnrollmentToken | ViewAudit | ManageOrg => &[Admin],
        RemoveTechnician | SetTechnicianRoles | RemoveAgent | ListTokens | RevokeToken => &[Admin],
        ManageSla | ManageNotifications => &[Admin],
        // Whoever solves tickets writes down how; taking an article out of
        // the employees' sight is for the senior tiers.
        WriteArticles => &[L1, L2, L3, Admin],
        RetireArticles => &[L2, L3, Admin],
    }
}

/// What a technician must be allowed to do to download an attachment of
/// this kind: the same as to make it. A pulled log needs `PullLogs`, a
/// screenshot (pulled, or the employee's with a ticket) `TakeScreenshot`.
/// A new kind must pick its action here (e.g. diagnostics → `RunDiagnostics`).
pub fn action_to_fetch(kind: AttachmentKind) -> Action {
    match kind {
        AttachmentKind::Log => Action::PullLogs,
        AttachmentKind::Screenshot => Action::TakeScreenshot,
    }
}

pub fn may(roles: &[Role], action: Action) -> bool {
    roles.iter().any(|r| roles_allowed(action).contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admin_registers_technicians_and_makes_tokens() {
        for r in [Role::L1, Role::L2, Role::L3, Role::Approver] {
            assert!(!may(&[r], Action::RegisterTechnician), "{r}");
            assert!(!may(&[r], Action::CreateEnrollmentToken), "{r}");
        }
        assert!(may(&[Role::Admin], Action::RegisterTechnician));
    }

    #[test]
    fn tiers_are_cumulative_for_log_pull() {
        assert!(may(&[Role::L1], Action::RunDiagnostics));
        assert!(!may(&[Role::L1], Action::PullLogs));
        assert!(may(&[Role::L2], Action::PullLogs));
        assert!(may(&[Role::L3], Action::PullLogs));
    }

    #[test]
    fn approver_only_approves_and_looks() {
        assert!(may(&[Role::Approver], Action::ApproveScript));
        assert!(may(&[Role::Approver], Action::ViewTickets));
        assert!(!may(&[Role::Approver], Action::CommentTicket));
        assert!(!may(&[Role::L3], Action::ApproveScript));
        assert!(!may(&[], Action::ViewTickets));
    }

    #[test]
    fn only_admin_removes_changes_roles_and_manages_tokens() {
        for action in [
            Action::RemoveTechnician,
            Action::SetTechnicianRoles,
            Action::RemoveAgent,
            Action::ListTokens,
            Action::RevokeToken,
            Action::ManageNotifications,
            Action::ManageSla,
        ] {
            assert_eq!(roles_allowed(action), &[Role::Admin], "{action:?}");
        }
    }

    #[test]
    fn fetching_an_attachment_needs_the_role_that_made_it() {
        let log = action_to_fetch(AttachmentKind::Log);
        let shot = action_to_fetch(AttachmentKind::Screenshot);
        assert_eq!((log, shot), (Action::PullLogs, Action::TakeScreenshot));
        for r in [Role::L1, Role::Approver] {
            assert!(!may(&[r], log) && !may(&[r], shot), "{r}");
        }
        for r in [Role::L2, Role::L3, Role::Admin] {
            assert!(may(&[r], log) && may(&[r], shot), "{r}");
        }
    }

    #[test]
    fn roles_parse() {
        assert_eq!("Admin".parse::<Role>().unwrap(), Role::Admin);
        assert!("root".parse::<Role>().is_err());
    }
}
