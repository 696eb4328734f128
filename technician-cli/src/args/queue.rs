//! The queue's command line: the ticket filters `tickets list`, `search`
//! and `watch` share, and the endpoint filters of `agents list`. Each value
//! is parsed here, so a typo is a usage error naming what is allowed; the
//! relay checks everything again.

use clap::Args;
use triage_shared::queue::{
    AgentFilter, AssigneeFilter, Presence, TicketFilter, TicketSort, DEFAULT_SEARCH_RESULTS,
    MAX_SEARCH_RESULTS,
};
use triage_shared::selector::AgentSelector;
use triage_shared::ticket::{Category, Priority, Source, Status, Tier};
use triage_shared::time::{parse_since, Timestamp};

/// Which tickets: every flag narrows, a repeated flag means "any of these".
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct TicketFilterArgs {
    /// Only this status (open, in_progress, waiting, resolved, closed); repeat for several.
    #[arg(long, value_name = "STATUS", value_parser = parse_named::<Status>)]
    pub status: Vec<Status>,
    /// Only this tier (l1, l2, l3); repeat for several.
    #[arg(long, value_name = "TIER", value_parser = parse_named::<Tier>)]
    pub tier: Vec<Tier>,
    /// Only this priority (low, normal, high, urgent); repeat for several.
    #[arg(long, value_name = "PRIORITY", value_parser = parse_named::<Priority>)]
    pub priority: Vec<Priority>,
    /// Only this category (hardware, software, network, account, other); repeat for several.
    #[arg(long, value_name = "CATEGORY", value_parser = parse_named::<Category>)]
    pub category: Vec<Category>,
    /// Only tickets filed this way (employee, health_alert, technician); repeat for several.
    #[arg(long, value_name = "SOURCE", value_parser = parse_named::<Source>)]
    pub source: Vec<Source>,
    /// `me`, `none` (unassigned) or a technician's name.
    #[arg(long, value_name = "WHO", value_parser = parse_assignee)]
    pub assignee: Option<AssigneeFilter>,
    /// Only tickets filed by this endpoint: its id, id prefix or hostname.
    #[arg(long, value_name = "AGENT", value_parser = parse_agent)]
    pub agent: Option<AgentSelector>,
    /// Only tickets this person asked for (as the ticket names them).
    #[arg(long, value_name = "NAME")]
    pub requester: Option<String>,
    /// Created since: a duration ago (2h, 3d), a date (2026-12-01), today, yesterday or a weekday.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub created_since: Option<Timestamp>,
    /// Changed since: as --created-since.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub updated_since: Option<Timestamp>,
    /// Only open tickets past their SLA due time or due within the hour.
    #[arg(long)]
    pub breaching: bool,
}

impl TicketFilterArgs {
    pub fn to_filter(&self) -> TicketFilter {
        TicketFilter {
            statuses: self.status.clone(),
            tiers: self.tier.clone(),
            priorities: self.priority.clone(),
            categories: self.category.clone(),
            sources: self.source.clone(),
            assignee: self.assignee.clone().unwrap_or_default(),
            agent: self.agent.clone(),
            requester: self.requester.clone(),
            created_since: self.created_since,
            updated_since: self.updated_since,
            breaching: self.breaching,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: TicketFilterArgs,
    /// Order: created (newest first), updated, priority (most urgent, then
    /// soonest due) or due (soonest first).
    #[arg(long, default_value = "created", value_parser = parse_named::<TicketSort>)]
    pub sort: TicketSort,
    /// Show at most this many; without it every matching ticket is fetched, a page at a time.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct SearchArgs {
    /// Words to find, "a phrase" in quotes, -word to leave tickets holding it out.
    #[arg(allow_hyphen_values = true)]
    pub query: String,
    #[command(flatten)]
    pub filter: TicketFilterArgs,
    /// Show at most this many results, best first.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEARCH_RESULTS,
          value_parser = clap::value_parser!(u32).range(1..=MAX_SEARCH_RESULTS as i64))]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub filter: TicketFilterArgs,
    /// One JSON object per line: the current tickets, then one per event.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct AgentFilterArgs {
    /// Only endpoints connected now.
    #[arg(long, conflicts_with = "offline")]
    pub online: bool,
    /// Only endpoints not connected now.
    #[arg(long)]
    pub offline: bool,
    /// Only hostnames matching this pattern: `*` any run of characters, `?` one; case ignored.
    #[arg(long, value_name = "GLOB")]
    pub hostname: Option<String>,
    /// Only endpoints whose OS description contains this text; case ignored.
    #[arg(long, value_name = "TEXT")]
    pub os: Option<String>,
    /// Only endpoints heard from since: a duration ago (10m, 2d), a date, today or a weekday.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub seen_since: Option<Timestamp>,
}

impl AgentFilterArgs {
    pub fn to_filter(&self) -> AgentFilter {
        AgentFilter {
            presence: match (self.online, self.offline) {
                (true, _) => Presence::Online,
                (_, true) => Presence::Offline,
                _ => Presence::Any,
            },
            hostname: self.hostname.clone(),
            os: self.os.clone(),
            seen_since: self.seen_since,
        }
    }
}

fn parse_named<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

fn parse_assignee(s: &str) -> Result<AssigneeFilter, String> {
    AssigneeFilter::parse(s).map_err(|e| e.message)
}

fn parse_agent(s: &str) -> Result<AgentSelector, String> {
    AgentSelector::parse(s).map_err(|e| e.message)
}

fn parse_when(s: &str) -> Result<Timestamp, String> {
    parse_since(s, Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct List {
        #[command(flatten)]
        list: ListArgs,
    }

    fn list(args: &[&str]) -> Result<ListArgs, String> {
        List::try_parse_from(std::iter::once("list").chain(args.iter().copied()))
            .map(|l| l.list)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_filter_reads_into_one_filter() {
        let l = list(&[
            "--status",
            "open",
            "--status",
            "in-progress",
            "--tier",
            "l2",
            "--priority",
            "urgent",
            "--category",
            "network",
            "--source",
            "health_alert",
            "--assignee",
            "none",
            "--agent",
            "pc-42",
            "--requester",
            "alice",
            "--created-since",
            "2026-12-01",
            "--updated-since",
            "2h",
            "--breaching",
            "--sort",
            "due",
            "--limit",
            "7",
            "--json",
        ])
        .unwrap();
        let f = l.filter.to_filter();
        assert_eq!(f.statuses, [Status::Open, Status::InProgress]);
        assert_eq!(f.tiers, [Tier::L2]);
        assert_eq!(f.priorities, [Priority::Urgent]);
        assert_eq!(f.categories, [Category::Network]);
        assert_eq!(f.sources, [Source::HealthAlert]);
        assert_eq!(f.assignee, AssigneeFilter::Unassigned);
        assert_eq!(f.agent, Some(AgentSelector::Name("pc-42".into())));
        assert_eq!(f.requester.as_deref(), Some("alice"));
        assert_eq!(f.created_since.unwrap().to_string(), "2026-12-01T00:00:00Z");
        assert!(f.updated_since.unwrap() < Timestamp::now());
        assert!(f.breaching);
        assert_eq!(l.sort, TicketSort::Due);
        assert_eq!(l.limit, Some(7));
        assert!(l.json);
        let plain = list(&[]).unwrap();
        assert_eq!(plain.filter.to_filter(), TicketFilter::default());
        assert_eq!(plain.sort, TicketSort::Created);
        assert_eq!(plain.limit, None);
    }

    #[test]
    fn bad_values_are_usage_errors_that_say_what_is_allowed() {
        let err = list(&["--tier", "l4"]).unwrap_err();
        assert!(err.contains("use one of: l1, l2, l3"), "{err}");
        let err = list(&["--sort", "age"]).unwrap_err();
        assert!(err.contains("created, updated, priority, due"), "{err}");
        let err = list(&["--created-since", "someday"]).unwrap_err();
        assert!(err.contains("or give a date"), "{err}");
        let err = list(&["--assignee", " "]).unwrap_err();
        assert!(err.contains("--assignee is empty"), "{err}");
        assert!(list(&["--limit", "0"]).is_err());
    }

    #[derive(Debug, Parser)]
    struct Agents {
        #[command(flatten)]
        filter: AgentFilterArgs,
    }

    #[test]
    fn endpoint_filters_read_presence_once() {
        let parse = |args: &[&str]| {
            Agents::try_parse_from(std::iter::once("agents").chain(args.iter().copied()))
                .map(|a| a.filter.to_filter())
        };
        assert_eq!(parse(&[]).unwrap(), AgentFilter::default());
        assert_eq!(parse(&["--online"]).unwrap().presence, Presence::Online);
        let f = parse(&[
            "--offline",
            "--hostname",
            "pc-*",
            "--os",
            "debian",
            "--seen-since",
            "1d",
        ])
        .unwrap();
        assert_eq!(f.presence, Presence::Offline);
        assert_eq!(f.hostname.as_deref(), Some("pc-*"));
        assert_eq!(f.os.as_deref(), Some("debian"));
        assert!(f.seen_since.is_some());
        assert!(parse(&["--online", "--offline"]).is_err());
    }
}
