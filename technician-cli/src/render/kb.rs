//! The knowledge base as technicians read it: the article list, search
//! hits, one article with its history, and the articles beside a ticket
//! in `tickets show`. Every string from the relay is cleaned.

use super::queue::marked;
use crate::text::{age, table, truncate};
use triage_shared::kb::{Article, ArticleHit, ArticleSummary, TicketArticles};
use triage_shared::text::clean;
use triage_shared::time::Timestamp;

const ARTICLE_HEADERS: [&str; 7] = [
    "ID", "VIS", "CATEGORY", "SOLVED", "CHANGED", "TAGS", "TITLE",
];
/// Characters of tags shown in the list.
const TAGS_SHOWN: usize = 24;

fn state(a: &ArticleSummary) -> String {
    if a.retired {
        "retired".into()
    } else {
        a.visibility.to_string()
    }
}

/// `kb list`: one row per article.
pub fn article_table(articles: &[ArticleSummary], now: Timestamp, width: usize) -> String {
    if articles.is_empty() {
        return "No articles.\n".into();
    }
    let rows: Vec<Vec<String>> = articles
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                state(a),
                a.category.map_or("-".into(), |c| c.to_string()),
                a.solved.to_string(),
                age(a.updated_at, now),
                truncate(&a.tags.join(","), TAGS_SHOWN),
                a.title.clone(),
            ]
        })
        .collect();
    table(&ARTICLE_HEADERS, &rows, width)
}

/// `kb search`: two lines a hit, best first.
pub fn article_hits(hits: &[ArticleHit]) -> String {
    if hits.is_empty() {
        return "No article matches.\n".into();
    }
    let mut text = String::new();
    for hit in hits {
        let a = &hit.article;
        text.push_str(&format!(
            "{}  {}  solved {}  {}\n    {}\n",
            a.id,
            state(a),
            a.solved,
            clean(&a.title),
            marked(&hit.snippet),
        ));
    }
    text
}

/// `kb show`: the header, the body as written (cleaned, line by line), the
/// known fix and the history.
pub fn article_detail(article: &Article, now: Timestamp) -> String {
    let c = &article.content;
    let mut text = format!("{}  {}\n", article.id, clean(&c.title));
    let shown = if article.version == article.current_version {
        format!("version {} (current)", article.version)
    } else {
        format!(
            "version {} of {} (an older text)",
            article.version, article.current_version
        )
    };
    text.push_str(&format!(
        "  {shown}, by {}; visibility {}\n",
        clean(&article.author),
        c.visibility
    ));
    if let Some(retired) = &article.retired {
        text.push_str(&format!(
            "  RETIRED {} by {}: never offered or suggested\n",
            retired.at,
            clean(&retired.by)
        ));
    }
    text.push_str(&format!(
        "  category {}; tags {}\n",
        c.category.map_or("-".into(), |c| c.to_string()),
        if c.tags.is_empty() {
            "-".into()
        } else {
            c.tags.join(", ")
        }
    ));
    text.push_str(&format!(
        "  solved {} ticket(s); \"This solved it\" {} time(s)\n",
        article.solved, article.deflections
    ));
    if let Some(ticket) = article.from_ticket {
        text.push_str(&format!("  written from ticket {}\n", ticket.short()));
    }
    if let Some(digest) = c.script {
        text.push_str(&format!(
            "  known fix: script {digest}; running it still needs each ticket's own approval\n"
        ));
    }
    text.push('\n');
    for line in c.body.lines() {
        text.push_str(&format!("    {}\n", clean(line)));
    }
    text.push_str("\nHistory:\n");
    for v in &article.history {
        text.push_str(&format!(
            "  v{}  {}  {}  {}\n",
            v.version,
            age(v.created_at, now),
            clean(&v.author),
            clean(&v.title)
        ));
    }
    text
}

fn article_line(a: &ArticleSummary) -> String {
    format!("  {}  {}  {}\n", a.id, state(a), clean(&a.title))
}

/// The end of `tickets show`: the article that solved it, what the
/// employee read before filing, and articles that may fit.
pub fn ticket_articles_section(articles: &TicketArticles) -> String {
    let mut text = String::new();
    if let Some(a) = &articles.solved_by {
        text.push_str("\nSolved by:\n");
        text.push_str(&article_line(a));
    }
    if !articles.viewed.is_empty() {
        text.push_str("\nRead by the employee before filing:\n");
        for a in &articles.viewed {
            text.push_str(&article_line(a));
        }
    }
    if !articles.suggested.is_empty() {
        text.push_str("\nKnowledge base articles that may fit:\n");
        for hit in &articles.suggested {
            text.push_str(&article_line(&hit.article));
            text.push_str(&format!("      {}\n", marked(&hit.snippet)));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::kb::{ArticleContent, ArticleId, ArticleVersion, Retired, Visibility};
    use triage_shared::queue::Snippet;
    use triage_shared::ticket::Category;

    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    fn summary(id: u64, title: &str) -> ArticleSummary {
        ArticleSummary {
            id: ArticleId(id),
            title: title.into(),
            category: Some(Category::Network),
            tags: vec!["vpn".into()],
            visibility: Visibility::Public,
            version: 1,
            updated_at: Timestamp(NOW.0 - 3_600_000),
            retired: false,
            solved: 4,
            script: None,
        }
    }

    #[test]
    fn the_list_shows_state_counts_and_tags() {
        let mut retired = summary(2, "Old client");
        retired.retired = true;
        let text = article_table(&[summary(1, "VPN drops"), retired], NOW, 120);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ID"), "{text}");
        assert!(
            lines[1].contains("KB-1") && lines[1].contains("public") && lines[1].contains("1h"),
            "{text}"
        );
        assert!(lines[2].contains("retired"), "{text}");
        assert_eq!(article_table(&[], NOW, 120), "No articles.\n");
    }

    #[test]
    fn an_article_is_shown_with_its_fix_history_and_retirement_and_cleaned() {
        let article = Article {
            id: ArticleId(3),
            content: ArticleContent {
                title: "VPN \u{1b}[31mdrops".into(),
                body: "# Fix\nRun the script.".into(),
                category: None,
                tags: vec![],
                visibility: Visibility::Internal,
                script: Some(triage_shared::approval::ScriptDigest([7; 32])),
            },
            version: 1,
            current_version: 2,
            from_ticket: None,
            author: "carol".into(),
            created_at: NOW,
            updated_at: NOW,
            retired: Some(Retired {
                at: NOW,
                by: "dave".into(),
            }),
            solved: 2,
            deflections: 5,
            history: vec![
                ArticleVersion {
                    version: 2,
                    title: "VPN drops".into(),
                    author: "dave".into(),
                    created_at: NOW,
                },
                ArticleVersion {
                    version: 1,
                    title: "VPN drops".into(),
                    author: "carol".into(),
                    created_at: NOW,
                },
            ],
        };
        let text = article_detail(&article, NOW);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("version 1 of 2 (an older text)"), "{text}");
        assert!(text.contains("RETIRED"), "{text}");
        assert!(text.contains("known fix: script sha256:0707"), "{text}");
        assert!(text.contains("\"This solved it\" 5 time(s)"), "{text}");
        assert!(text.contains("    # Fix\n    Run the script.\n"), "{text}");
        assert!(text.contains("  v2  0s  dave"), "{text}");
    }

    #[test]
    fn beside_a_ticket_each_part_shows_only_when_there_is_something() {
        assert_eq!(ticket_articles_section(&TicketArticles::default()), "");
        let text = ticket_articles_section(&TicketArticles {
            suggested: vec![ArticleHit {
                article: summary(1, "VPN drops"),
                snippet: Snippet {
                    text: "the vpn drops".into(),
                    marks: vec![(4, 7)],
                },
            }],
            viewed: vec![summary(2, "Wifi")],
            solved_by: Some(summary(1, "VPN drops")),
        });
        assert!(text.contains("Solved by:\n  KB-1"), "{text}");
        assert!(text.contains("before filing:\n  KB-2"), "{text}");
        assert!(text.contains("the *vpn* drops"), "{text}");
    }
}
