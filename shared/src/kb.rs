//! The knowledge base: markdown articles technicians write from solved
//! problems, found with the same search language as tickets
//! ([`crate::queue::SearchQuery`]), linked to the tickets they solved, and
//! offered to employees in the Get help window before a ticket exists.
//!
//! Everything here is data and checks; every value that crosses the
//! network is checked with `validate` by whoever receives it.

use crate::approval::ScriptDigest;
use crate::queue::{words_of, Snippet};
use crate::text::{check_text, InvalidInput};
use crate::ticket::Category;
use crate::time::Timestamp;
use crate::TicketId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

pub const MAX_ARTICLE_TITLE_LEN: usize = 200;
/// Largest article body: a long how-to fits, and one article always fits
/// in one frame with its history.
pub const MAX_ARTICLE_BODY_LEN: usize = 64 * 1024;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_LEN: usize = 32;
/// Most articles in one page of `kb list`.
pub const MAX_ARTICLE_PAGE: u32 = 200;
/// Most hits of one `kb search`.
pub const MAX_ARTICLE_HITS: u32 = 50;
/// Versions `kb show` lists, newest first.
pub const MAX_ARTICLE_HISTORY: usize = 50;
/// Articles the Get help window shows while the employee types.
pub const MAX_SUGGESTIONS: usize = 3;
/// The employee must have typed at least this many words before the window
/// asks: fewer say too little to match on.
pub const MIN_SUGGESTION_WORDS: usize = 3;
/// Longest text the window sends to be matched (its first part is enough).
pub const MAX_SUGGESTION_TEXT_LEN: usize = 1024;
/// The first lines of an article shown under its title in a suggestion.
pub const EXCERPT_LEN: usize = 240;
/// Articles one ticket can record as read before it was filed.
pub const MAX_VIEWED_ARTICLES: usize = 10;
/// Articles `tickets show` suggests for a ticket.
pub const MAX_TICKET_SUGGESTIONS: usize = 3;

/// An article's number, shown and typed as `KB-12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArticleId(pub u64);

impl fmt::Display for ArticleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KB-{}", self.0)
    }
}

impl FromStr for ArticleId {
    type Err = String;
    /// `KB-12`, `kb-12` or `12`.
    fn from_str(s: &str) -> Result<Self, String> {
        let trimmed = s.trim();
        let digits = trimmed
            .strip_prefix("KB-")
            .or_else(|| trimmed.strip_prefix("kb-"))
            .unwrap_or(trimmed);
        match digits.parse::<u64>() {
            Ok(n) if n >= 1 && n <= i64::MAX as u64 => Ok(ArticleId(n)),
            _ => Err(format!(
                "`{}` is not an article number; give one such as KB-12 (see `triage kb list`)",
                crate::text::clean(crate::text::shortened(s, 40))
            )),
        }
    }
}

/// Who may read an article.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Visibility {
    /// Employees too: offered in the Get help window.
    #[default]
    Public,
    /// Technicians only (it may name servers, admin steps or scripts).
    Internal,
}

crate::ticket::named_values!(Visibility, "visibility");

/// What an article says, as one version holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleContent {
    /// One line.
    pub title: String,
    /// Markdown.
    pub body: String,
    pub category: Option<Category>,
    /// Lowercase letters, digits and `-`, sorted, each once ([`tags`]).
    pub tags: Vec<String>,
    pub visibility: Visibility,
    /// The known fix: an approved remediation script, by digest. Running
    /// it on a ticket's endpoint still needs that ticket's own two-person
    /// approval.
    pub script: Option<ScriptDigest>,
}

impl ArticleContent {
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_text("title", &self.title, MAX_ARTICLE_TITLE_LEN, false)?;
        if self.title.contains('\n') {
            return Err(InvalidInput::new("title", "must be one line"));
        }
        check_text("body", &self.body, MAX_ARTICLE_BODY_LEN, false)?;
        if self.tags.len() > MAX_TAGS {
            return Err(InvalidInput::new(
                "tags",
                format!("are {}; give at most {MAX_TAGS}", self.tags.len()),
            ));
        }
        let normal = tags(&self.tags.join(","))?;
        if normal != self.tags {
            return Err(InvalidInput::new(
                "tags",
                "must be lowercase, sorted and each given once",
            ));
        }
        Ok(())
    }
}

/// Reads `a,b,c` as tags: trimmed, lowercased, sorted, each once; empty
/// pieces are skipped. Each is letters, digits and `-`, at most
/// [`MAX_TAG_LEN`] bytes.
pub fn tags(text: &str) -> Result<Vec<String>, InvalidInput> {
    let mut out: Vec<String> = Vec::new();
    for piece in text.split(',') {
        let tag = piece.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if tag.len() > MAX_TAG_LEN
            || !tag
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(InvalidInput::new(
                "tags",
                format!(
                    "`{}` is not a tag; use letters, digits and `-`, at most {MAX_TAG_LEN} characters, e.g. `vpn,wifi`",
                    crate::text::clean(crate::text::shortened(&tag, 40))
                ),
            ));
        }
        out.push(tag);
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_TAGS {
        return Err(InvalidInput::new(
            "tags",
            format!("are {}; give at most {MAX_TAGS}", out.len()),
        ));
    }
    Ok(out)
}

/// `kb add`: a new article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleDraft {
    pub content: ArticleContent,
    /// The solved ticket it was written from; it then counts as solved by
    /// the article.
    pub from_ticket: Option<TicketId>,
}

/// `kb edit`: what changes, on top of the version the editor read. An
/// edit of an older version is refused, so two editors never overwrite
/// each other unseen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleChange {
    pub base_version: u32,
    pub title: Option<String>,
    pub body: Option<String>,
    /// `Some(None)` clears the category.
    pub category: Option<Option<Category>>,
    pub tags: Option<Vec<String>>,
    pub visibility: Option<Visibility>,
    /// `Some(None)` drops the known fix.
    pub script: Option<Option<ScriptDigest>>,
}

impl ArticleChange {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.body.is_none()
            && self.category.is_none()
            && self.tags.is_none()
            && self.visibility.is_none()
            && self.script.is_none()
    }

    /// The content after this change; checked.
    pub fn apply(&self, current: &ArticleContent) -> Result<ArticleContent, InvalidInput> {
        if self.is_empty() {
            return Err(InvalidInput::new(
                "edit",
                "changes nothing; give --title, --body, --category, --tags, --visibility or --script",
            ));
        }
        let next = ArticleContent {
            title: self.title.clone().unwrap_or_else(|| current.title.clone()),
            body: self.body.clone().unwrap_or_else(|| current.body.clone()),
            category: self.category.unwrap_or(current.category),
            tags: self.tags.clone().unwrap_or_else(|| current.tags.clone()),
            visibility: self.visibility.unwrap_or(current.visibility),
            script: self.script.unwrap_or(current.script),
        };
        next.validate()?;
        Ok(next)
    }
}

/// When and by whom an article was retired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retired {
    pub at: Timestamp,
    pub by: String,
}

/// One version in an article's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleVersion {
    pub version: u32,
    pub title: String,
    pub author: String,
    pub created_at: Timestamp,
}

/// An article as `kb show` prints it: one version's content (the current
/// one unless another was asked for) and the whole history's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub id: ArticleId,
    pub content: ArticleContent,
    /// The version `content` is.
    pub version: u32,
    /// The newest version.
    pub current_version: u32,
    pub from_ticket: Option<TicketId>,
    /// Who wrote the version shown, and when.
    pub author: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub retired: Option<Retired>,
    /// Tickets resolved naming this article as their fix.
    pub solved: u64,
    /// Times "This solved it" was clicked on it in the Get help window.
    pub deflections: u64,
    /// Newest first, at most [`MAX_ARTICLE_HISTORY`].
    pub history: Vec<ArticleVersion>,
}

/// An article in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleSummary {
    pub id: ArticleId,
    pub title: String,
    pub category: Option<Category>,
    pub tags: Vec<String>,
    pub visibility: Visibility,
    pub version: u32,
    pub updated_at: Timestamp,
    pub retired: bool,
    pub solved: u64,
    pub script: Option<ScriptDigest>,
}

/// Where a page of `kb list` starts: after this article, in the list's
/// order (newest change first, then the highest number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleCursor {
    pub updated_at: Timestamp,
    pub id: ArticleId,
}

/// Which articles `kb list` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleFilter {
    pub category: Option<Category>,
    pub tag: Option<String>,
    /// Retired articles too (they are left out otherwise).
    pub include_retired: bool,
}

impl ArticleFilter {
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if let Some(tag) = &self.tag {
            let parsed = tags(tag)?;
            if parsed.len() != 1 || parsed[0] != *tag {
                return Err(InvalidInput::new(
                    "tag",
                    "give one lowercase tag, e.g. `--tag vpn`",
                ));
            }
        }
        Ok(())
    }
}

/// One result of `kb search`, best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleHit {
    pub article: ArticleSummary,
    pub snippet: Snippet,
}

/// The knowledge base beside one ticket in `tickets show`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketArticles {
    /// Active articles matching the ticket's text, best first, at most
    /// [`MAX_TICKET_SUGGESTIONS`].
    pub suggested: Vec<ArticleHit>,
    /// What the employee read in the Get help window before filing it.
    pub viewed: Vec<ArticleSummary>,
    /// The article the ticket was resolved with.
    pub solved_by: Option<ArticleSummary>,
}

/// An article offered in the Get help window: public and not retired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub id: ArticleId,
    pub title: String,
    /// The first lines, as plain text, at most [`EXCERPT_LEN`] bytes.
    pub excerpt: String,
}

impl Suggestion {
    /// What a daemon or window checks of a suggestion from the relay.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_text("title", &self.title, MAX_ARTICLE_TITLE_LEN, false)?;
        check_text("excerpt", &self.excerpt, EXCERPT_LEN, true)
    }
}

/// A public article opened in the Get help window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicArticle {
    pub id: ArticleId,
    pub title: String,
    pub body: String,
    pub updated_at: Timestamp,
}

impl PublicArticle {
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_text("title", &self.title, MAX_ARTICLE_TITLE_LEN, false)?;
        check_text("body", &self.body, MAX_ARTICLE_BODY_LEN, false)
    }
}

/// "This solved it": the employee fixed it with an article and filed no
/// ticket. `id` is chosen by the agent, so a retried delivery counts once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deflection {
    pub id: Uuid,
    pub article: ArticleId,
    /// What the employee had typed when the article was offered.
    pub query: String,
    /// The account at the window, as the daemon read it from the socket.
    pub requester: String,
}

impl Deflection {
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_text("query", &self.query, MAX_SUGGESTION_TEXT_LEN, false)?;
        check_text(
            "requester",
            &self.requester,
            crate::limits::MAX_NAME_LEN,
            false,
        )
    }
}

/// Whether the employee has typed enough to be offered articles.
pub fn enough_to_suggest(text: &str) -> bool {
    words_of(text).len() >= MIN_SUGGESTION_WORDS
}

/// The text of `body` an employee sees first, as plain text: the first
/// lines that say something, with markdown's marks taken off, cut to
/// [`EXCERPT_LEN`] bytes at a word.
pub fn excerpt(body: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for line in body.lines() {
        let line = line.trim();
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || line.is_empty() {
            continue;
        }
        let plain = plain_line(line);
        if plain.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&plain);
        if out.len() >= EXCERPT_LEN {
            break;
        }
    }
    if out.len() > EXCERPT_LEN {
        let mut cut = EXCERPT_LEN - '…'.len_utf8();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(space) = out[..cut].rfind(' ') {
            cut = space;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// One markdown line without its block marks (`#`, `-`, `*`, `>`, `1.`)
/// or inline ones (`**`, `` ` ``, `_`), and with `[text](url)` as `text`.
fn plain_line(line: &str) -> String {
    let mut rest = line.trim_start_matches('#').trim_start_matches('>').trim();
    for bullet in ["- ", "* ", "+ "] {
        if let Some(r) = rest.strip_prefix(bullet) {
            rest = r;
        }
    }
    if let Some((number, r)) = rest.split_once(". ") {
        if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
            rest = r;
        }
    }
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '`' | '_' => {}
            '[' => {
                let mut text = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    text.push(c);
                }
                out.push_str(&text);
                if closed && chars.peek() == Some(&'(') {
                    for c in chars.by_ref() {
                        if c == ')' {
                            break;
                        }
                    }
                }
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> ArticleContent {
        ArticleContent {
            title: "VPN drops every hour".into(),
            body: "# Fix\nRenew the certificate.".into(),
            category: Some(Category::Network),
            tags: vec!["vpn".into()],
            visibility: Visibility::Public,
            script: None,
        }
    }

    #[test]
    fn article_numbers_read_with_or_without_their_prefix() {
        assert_eq!("KB-12".parse::<ArticleId>(), Ok(ArticleId(12)));
        assert_eq!("kb-3".parse::<ArticleId>(), Ok(ArticleId(3)));
        assert_eq!(" 7 ".parse::<ArticleId>(), Ok(ArticleId(7)));
        assert_eq!(ArticleId(12).to_string(), "KB-12");
        for bad in ["", "KB-", "KB-0", "0", "-3", "KB-x", "99999999999999999999"] {
            let e = bad.parse::<ArticleId>().unwrap_err();
            assert!(e.contains("triage kb list"), "{bad}: {e}");
        }
    }

    #[test]
    fn tags_are_normalised_and_bad_ones_named() {
        assert_eq!(
            tags(" VPN, wifi,,vpn ,remote-work").unwrap(),
            vec!["remote-work", "vpn", "wifi"]
        );
        assert_eq!(tags("").unwrap(), Vec::<String>::new());
        let e = tags("vpn,wi fi").unwrap_err();
        assert!(e.problem.contains("`wi fi`"), "{e:?}");
        let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(tags(&many.join(",")).is_err());
        assert!(tags(&"a".repeat(33)).is_err());
    }

    #[test]
    fn content_is_checked_field_by_field() {
        assert!(content().validate().is_ok());
        let mut c = content();
        c.title = "two\nlines".into();
        assert_eq!(c.validate().unwrap_err().field, "title");
        let mut c = content();
        c.body = "x".repeat(MAX_ARTICLE_BODY_LEN + 1);
        assert_eq!(c.validate().unwrap_err().field, "body");
        let mut c = content();
        c.body = String::new();
        assert_eq!(c.validate().unwrap_err().field, "body");
        let mut c = content();
        c.tags = vec!["wifi".into(), "vpn".into()];
        assert_eq!(c.validate().unwrap_err().field, "tags");
    }

    #[test]
    fn an_edit_changes_what_it_names_and_refuses_to_change_nothing() {
        let change = ArticleChange {
            base_version: 1,
            title: Some("VPN drops".into()),
            category: Some(None),
            ..ArticleChange::default()
        };
        let next = change.apply(&content()).unwrap();
        assert_eq!(next.title, "VPN drops");
        assert_eq!(next.category, None);
        assert_eq!(next.body, content().body);
        let nothing = ArticleChange {
            base_version: 1,
            ..ArticleChange::default()
        };
        assert_eq!(nothing.apply(&content()).unwrap_err().field, "edit");
        let bad = ArticleChange {
            base_version: 1,
            body: Some(String::new()),
            ..ArticleChange::default()
        };
        assert_eq!(bad.apply(&content()).unwrap_err().field, "body");
    }

    #[test]
    fn excerpts_are_the_first_plain_lines_cut_at_a_word() {
        let body = "# Wi-Fi keeps dropping\n\n```sh\nsudo rm -rf /\n```\n\
                    - Open **Settings** → `Network`.\n1. See [the guide](https://example.com/x).";
        assert_eq!(
            excerpt(body),
            "Wi-Fi keeps dropping Open Settings → Network. See the guide."
        );
        let long = "word ".repeat(100);
        let cut = excerpt(&long);
        assert!(cut.len() <= EXCERPT_LEN, "{}", cut.len());
        assert!(cut.ends_with("word…"), "{cut}");
        assert_eq!(excerpt("```\nonly code\n```"), "");
    }

    #[test]
    fn suggestions_wait_for_three_words() {
        assert!(!enough_to_suggest("vpn drops"));
        assert!(enough_to_suggest("vpn drops hourly"));
        assert!(!enough_to_suggest("  -- ?? !!"));
    }
}
