// Every cell has run: show them (Voila's main script finishes the job once the theme is loaded).
window.voila_finish();
