//! 設定ガイド: a search box and the matching clients' guides (where a failed message waits, what
//! to change, how to send), today's programs before the 2000-era ones. The guides are embedded data; no I/O here.

use crate::fl;
use crate::text::guides::{self, Era};

use super::App;

impl App {
    /// Opens 設定ガイド at one page (from 「説明を見る」).
    pub(super) fn show_guide(&mut self, page: &str) {
        self.guide_query = page.to_owned();
        self.tab = super::Tab::Guides;
    }

    pub(super) fn guides_view(&mut self, ui: &mut egui::Ui) {
        let lang = crate::text::i18n::current();
        if self.guides.as_ref().is_none_or(|(l, _)| *l != lang) {
            self.guides = Some((lang.clone(), guides::all(&lang)));
        }
        ui.horizontal(|ui| {
            let l = ui.label(fl!("gui-guide-search"));
            ui.add(
                egui::TextEdit::singleline(&mut self.guide_query)
                    .hint_text(fl!("gui-guide-search-hint"))
                    .desired_width(320.0),
            )
            .labelled_by(l.id);
        });
        ui.separator();
        let Some((_, all)) = &self.guides else { return };
        let found = guides::find(all, &self.guide_query);
        if found.is_empty() {
            ui.label(fl!("gui-guide-none"));
            return;
        }
        let searching = !self.guide_query.trim().is_empty();
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (era, title) in [
                (Era::Basics, fl!("guide-era-basics")),
                (Era::Today, fl!("guide-era-today")),
                (Era::Reference, fl!("guide-era-reference")),
                (Era::Errors, fl!("guide-era-errors")),
            ] {
                let of_era: Vec<_> = found.iter().filter(|g| g.era == era).collect();
                if of_era.is_empty() {
                    continue;
                }
                ui.strong(title);
                for g in of_era {
                    egui::CollapsingHeader::new(g.name.as_str())
                        .id_salt(g.id.as_str())
                        .open(searching.then_some(true))
                        .show(ui, |ui| {
                            for s in &g.sections {
                                ui.label(egui::RichText::new(s.title.as_str()).strong());
                                for (i, step) in s.steps.iter().enumerate() {
                                    ui.label(format!("{}. {step}", i + 1));
                                }
                                ui.add_space(4.0);
                            }
                            if !g.sources.is_empty() {
                                ui.weak(fl!("guide-sources", sources = g.sources.join("; ")));
                            }
                        });
                }
            }
        });
    }
}
