//! Self-service in the Get help window, without drawing: as the employee
//! types (at least [`MIN_SUGGESTION_WORDS`] words, once they pause for
//! [`SUGGEST_DEBOUNCE`]), up to three knowledge base articles; one opened
//! to read; "This solved it" (no ticket) or "I still need help" (the
//! ticket is filed as usual, noting what was read).
//!
//! Suggestions are quiet: without the daemon or the relay there are
//! simply none, and the window says nothing about it.
//!
//! ```text
//! typing ──pause ≥ SUGGEST_DEBOUNCE, ≥ 3 words, text changed──► Suggest{text}
//! Suggestions{text, list} for the text asked last ──► shown (older answers dropped)
//! Open(id) ──► Opening ──Article──► Reading(article)  (counted as viewed)
//!                      └─ArticleFailed─► the reason, under the suggestions
//! Reading ──"This solved it"──► Solved{article, query} ──Deflected──► Thanked
//!         ──"I still need help"──► closed; the form is filed with `viewed`
//! ```

use super::link::LinkCommand;
use std::time::{Duration, Instant};
use triage_shared::kb::{
    enough_to_suggest, ArticleId, PublicArticle, Suggestion, MAX_SUGGESTIONS, MAX_VIEWED_ARTICLES,
    MIN_SUGGESTION_WORDS,
};

/// How long the employee must stop typing before articles are looked up.
pub const SUGGEST_DEBOUNCE: Duration = Duration::from_millis(600);

/// What the window shows about an article the employee opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    None,
    Opening(ArticleId),
    Open(PublicArticle),
}

#[derive(Debug)]
pub struct SelfService {
    /// The text as last seen, and when it last changed.
    seen_text: String,
    changed_at: Option<Instant>,
    /// The text last sent for suggestions; answers for any other are stale.
    asked: Option<String>,
    suggestions: Vec<Suggestion>,
    reading: Reading,
    /// Why the article could not be opened.
    error: Option<String>,
    /// Articles opened, oldest first, each once.
    viewed: Vec<ArticleId>,
    /// Set after "This solved it", until the employee types again.
    thanked: bool,
}

impl Default for SelfService {
    fn default() -> Self {
        SelfService {
            seen_text: String::new(),
            changed_at: None,
            asked: None,
            suggestions: Vec::new(),
            reading: Reading::None,
            error: None,
            viewed: Vec::new(),
            thanked: false,
        }
    }
}

impl SelfService {
    pub fn suggestions(&self) -> &[Suggestion] {
        &self.suggestions
    }

    pub fn reading(&self) -> &Reading {
        &self.reading
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// What "I still need help" notes on the ticket.
    pub fn viewed(&self) -> &[ArticleId] {
        &self.viewed
    }

    pub fn thanked(&self) -> bool {
        self.thanked
    }

    /// Sees the form's text once a frame; returns the request to send when
    /// the employee has paused on text worth matching.
    pub fn tick(&mut self, text: &str, now: Instant) -> Option<LinkCommand> {
        if text != self.seen_text {
            self.seen_text = text.to_string();
            self.changed_at = Some(now);
            self.thanked = false;
            if !enough_to_suggest(text) {
                // Fewer than three words: nothing to show, nothing to ask.
                self.suggestions.clear();
                self.asked = None;
                self.changed_at = None;
            }
            return None;
        }
        let paused = self
            .changed_at
            .is_some_and(|at| now.saturating_duration_since(at) >= SUGGEST_DEBOUNCE);
        if !paused || self.asked.as_deref() == Some(text) {
            return None;
        }
        self.changed_at = None;
        self.asked = Some(text.to_string());
        Some(LinkCommand::SuggestArticles {
            text: text.to_string(),
        })
    }

    /// How long until a pause would be long enough to ask.
    pub fn next_wake(&self, now: Instant) -> Option<Duration> {
        self.changed_at
            .map(|at| (at + SUGGEST_DEBOUNCE).saturating_duration_since(now))
    }

    /// The daemon's answer for `text`; dropped unless it answers the text
    /// asked last (the employee typed on meanwhile).
    pub fn on_suggestions(&mut self, text: &str, list: Vec<Suggestion>) {
        if self.asked.as_deref() == Some(text) && self.seen_text == text {
            self.suggestions = list;
            self.suggestions.truncate(MAX_SUGGESTIONS);
        }
    }

    /// "Read" on a suggestion.
    pub fn open(&mut self, id: ArticleId) -> LinkCommand {
        self.reading = Reading::Opening(id);
        self.error = None;
        LinkCommand::OpenArticle { id }
    }

    pub fn on_article(&mut self, article: PublicArticle) {
        // Only the one asked for last is shown.
        if self.reading != Reading::Opening(article.id) {
            return;
        }
        if !self.viewed.contains(&article.id) && self.viewed.len() < MAX_VIEWED_ARTICLES {
            self.viewed.push(article.id);
        }
        self.reading = Reading::Open(article);
    }

    pub fn on_article_failed(&mut self, why: String) {
        if matches!(self.reading, Reading::Opening(_)) {
            self.reading = Reading::None;
            self.error = Some(why);
        }
    }

    /// "Back" from the article to the form.
    pub fn close(&mut self) {
        self.reading = Reading::None;
    }

    /// "This solved it" on the open article: the request to send, with
    /// what the employee had typed.
    pub fn solved(&mut self) -> Option<LinkCommand> {
        let Reading::Open(article) = &self.reading else {
            return None;
        };
        let command = LinkCommand::Solved {
            article: article.id,
            query: self.seen_text.clone(),
        };
        Some(command)
    }

    /// The daemon took the deflection: the window thanks the employee and
    /// starts over.
    pub fn on_deflected(&mut self) {
        *self = SelfService {
            thanked: true,
            ..SelfService::default()
        };
    }

    /// The ticket was filed: what was read went with it.
    pub fn on_filed(&mut self) {
        *self = SelfService::default();
    }
}

/// The line under the text box while the employee has typed too little.
pub fn hint(text: &str) -> Option<String> {
    (!text.trim().is_empty() && !enough_to_suggest(text)).then(|| {
        format!("Type at least {MIN_SUGGESTION_WORDS} words to see articles that may help.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suggestion(id: u64) -> Suggestion {
        Suggestion {
            id: ArticleId(id),
            title: format!("Article {id}"),
            excerpt: "text".into(),
        }
    }

    fn article(id: u64) -> PublicArticle {
        PublicArticle {
            id: ArticleId(id),
            title: format!("Article {id}"),
            body: "Sign in again.".into(),
            updated_at: triage_shared::time::Timestamp(0),
        }
    }

    #[test]
    fn articles_are_asked_for_once_the_employee_pauses_on_three_words() {
        let t0 = Instant::now();
        let mut s = SelfService::default();
        assert_eq!(s.tick("vpn drops", t0), None);
        assert_eq!(s.tick("vpn drops", t0 + Duration::from_secs(5)), None);
        assert_eq!(s.tick("vpn drops every", t0), None);
        let just_before = t0 + SUGGEST_DEBOUNCE - Duration::from_millis(1);
        assert_eq!(s.tick("vpn drops every", just_before), None);
        assert_eq!(s.next_wake(just_before), Some(Duration::from_millis(1)));
        assert_eq!(
            s.tick("vpn drops every", t0 + SUGGEST_DEBOUNCE),
            Some(LinkCommand::SuggestArticles {
                text: "vpn drops every".into()
            })
        );
        // Asked once per text, however long the pause.
        assert_eq!(s.tick("vpn drops every", t0 + Duration::from_secs(9)), None);
        assert_eq!(s.next_wake(t0), None);
    }

    #[test]
    fn a_late_answer_for_older_text_is_dropped() {
        let t0 = Instant::now();
        let mut s = SelfService::default();
        s.tick("vpn drops every", t0);
        s.tick("vpn drops every", t0 + SUGGEST_DEBOUNCE);
        s.tick("vpn drops every hour", t0 + SUGGEST_DEBOUNCE);
        s.on_suggestions("vpn drops every", vec![suggestion(1)]);
        assert!(s.suggestions().is_empty());
        let later = t0 + SUGGEST_DEBOUNCE * 3;
        assert!(s.tick("vpn drops every hour", later).is_some());
        s.on_suggestions("vpn drops every hour", (1..=5).map(suggestion).collect());
        assert_eq!(s.suggestions().len(), MAX_SUGGESTIONS);
        // Deleting words down to two clears them.
        s.tick("vpn drops", later);
        assert!(s.suggestions().is_empty());
    }

    #[test]
    fn reading_records_what_was_viewed_and_solved_sends_the_query() {
        let t0 = Instant::now();
        let mut s = SelfService::default();
        s.tick("printer paper jam", t0);
        assert_eq!(s.solved(), None, "nothing is open");
        assert_eq!(
            s.open(ArticleId(2)),
            LinkCommand::OpenArticle { id: ArticleId(2) }
        );
        // An answer for another article is not shown.
        s.on_article(article(9));
        assert_eq!(s.reading(), &Reading::Opening(ArticleId(2)));
        s.on_article(article(2));
        assert!(matches!(s.reading(), Reading::Open(a) if a.id == ArticleId(2)));
        s.close();
        s.open(ArticleId(2));
        s.on_article(article(2));
        assert_eq!(s.viewed(), [ArticleId(2)], "each article once");
        assert_eq!(
            s.solved(),
            Some(LinkCommand::Solved {
                article: ArticleId(2),
                query: "printer paper jam".into()
            })
        );
        s.on_deflected();
        assert!(s.thanked());
        assert!(s.viewed().is_empty());
        s.tick("something else now", t0);
        assert!(!s.thanked());
    }

    #[test]
    fn a_failed_open_says_why() {
        let mut s = SelfService::default();
        s.open(ArticleId(4));
        s.on_article_failed("withdrawn".into());
        assert_eq!(s.reading(), &Reading::None);
        assert_eq!(s.error(), Some("withdrawn"));
        assert!(s.viewed().is_empty());
    }

    #[test]
    fn the_hint_shows_only_for_a_few_words() {
        assert_eq!(hint(""), None);
        assert!(hint("vpn").unwrap().contains("3 words"));
        assert_eq!(hint("vpn drops hourly"), None);
    }
}
