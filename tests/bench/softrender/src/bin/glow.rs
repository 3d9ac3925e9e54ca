struct App(softrender::Ui);
impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        egui::CentralPanel::default().show_inside(ui, |ui| self.0.show(&ctx, ui));
    }
}
fn main() {
    let options = eframe::NativeOptions { viewport: egui::ViewportBuilder::default().with_inner_size([960.0, 700.0]), ..Default::default() };
    eframe::run_native("softrender", options, Box::new(|cc| {
        softrender::fonts(&cc.egui_ctx);
        Ok(Box::new(App(softrender::Ui::default())))
    }))
    .unwrap();
}
