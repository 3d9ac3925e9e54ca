use egui_software_backend::{SoftwareBackend, SoftwareBackendAppConfiguration};
struct App(softrender::Ui);
impl egui_software_backend::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _backend: &mut SoftwareBackend) {
        let ctx = ui.ctx().clone();
        egui::CentralPanel::default().show_inside(ui, |ui| self.0.show(&ctx, ui));
    }
}
fn main() {
    let settings = SoftwareBackendAppConfiguration::new().inner_size(Some(egui::vec2(960.0, 700.0))).title(Some("softrender".to_string()));
    egui_software_backend::run_app_with_software_backend(settings, |ctx| {
        softrender::fonts(&ctx);
        App(softrender::Ui::default())
    })
    .expect("run");
}
