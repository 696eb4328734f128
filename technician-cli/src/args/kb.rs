//! `triage kb …`: the knowledge base.

use clap::Subcommand;
use std::path::PathBuf;
use triage_shared::approval::ScriptDigest;
use triage_shared::kb::{tags, ArticleId, Visibility};
use triage_shared::ticket::Category;

/// Tags as one comma-separated value, normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagList(pub Vec<String>);

fn parse_tags(text: &str) -> Result<TagList, String> {
    tags(text).map(TagList).map_err(|e| e.problem)
}

fn parse_tag(text: &str) -> Result<String, String> {
    match tags(text).map_err(|e| e.problem)?.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err("give one tag, e.g. `--tag vpn`".into()),
    }
}

fn parse_digest(text: &str) -> Result<ScriptDigest, String> {
    ScriptDigest::try_from(text.to_string())
}

/// A value of `kb edit` that `none` clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrNone<T>(pub Option<T>);

fn parse_digest_or_none(text: &str) -> Result<OrNone<ScriptDigest>, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(OrNone(None));
    }
    parse_digest(text).map(|d| OrNone(Some(d)))
}

fn parse_category_or_none(text: &str) -> Result<OrNone<Category>, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(OrNone(None));
    }
    text.parse().map(|c| OrNone(Some(c)))
}

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Write an article from a markdown file, e.g. `kb add --title "VPN
    /// drops hourly" --body vpn.md --tags vpn,remote`. With --from-ticket
    /// the title and body are drafted from the ticket's title, description
    /// and resolution note (either may still be given), and the article
    /// counts that ticket as solved.
    Add {
        #[arg(long)]
        title: Option<String>,
        /// A markdown file; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: Option<PathBuf>,
        /// A resolved ticket (id or unique prefix) to write it from.
        #[arg(long, value_name = "TICKET")]
        from_ticket: Option<String>,
        /// hardware, software, network, account or other.
        #[arg(long)]
        category: Option<Category>,
        /// Comma-separated: letters, digits and `-`.
        #[arg(long, value_parser = parse_tags)]
        tags: Option<TagList>,
        /// public (offered to employees in the Get help window) or
        /// internal (technicians only). Default: public, or internal when
        /// drafted --from-ticket (a ticket's words may be personal).
        #[arg(long)]
        visibility: Option<Visibility>,
        /// The known fix: an approved remediation script, by digest
        /// (`sha256:…`, from `triage script show`).
        #[arg(long, value_name = "DIGEST", value_parser = parse_digest)]
        script: Option<ScriptDigest>,
        #[arg(long)]
        json: bool,
    },
    /// Articles, the newest change first: every one unless --limit is given.
    List {
        #[arg(long)]
        category: Option<Category>,
        #[arg(long, value_parser = parse_tag)]
        tag: Option<String>,
        /// Retired articles too.
        #[arg(long)]
        retired: bool,
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// One article with its history; --version shows an older text.
    Show {
        /// KB-12 or 12.
        article: ArticleId,
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Search active articles (internal ones too) with the tickets' search
    /// syntax: words, "a phrase", -word.
    Search {
        #[arg(allow_hyphen_values = true)]
        query: String,
        #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=50))]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// A new version of an article; the old text stays in its history.
    /// Refused when someone else edited it since you read it.
    Edit {
        article: ArticleId,
        #[arg(long)]
        title: Option<String>,
        /// A markdown file; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        body: Option<PathBuf>,
        /// A category, or `none`.
        #[arg(long, value_parser = parse_category_or_none)]
        category: Option<OrNone<Category>>,
        /// The whole new list of tags (empty clears them).
        #[arg(long, value_parser = parse_tags)]
        tags: Option<TagList>,
        #[arg(long)]
        visibility: Option<Visibility>,
        /// An approved script's digest, or `none`.
        #[arg(long, value_name = "DIGEST", value_parser = parse_digest_or_none)]
        script: Option<OrNone<ScriptDigest>>,
        /// The version you are editing (default: the newest, read first).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        base: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Retire an article for good (l2+): kept and shown by `kb show`, never
    /// offered or suggested again.
    Retire { article: ArticleId },
}
