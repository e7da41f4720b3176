// The manifest's devtools_page: runs (invisibly) whenever DevTools opens on a
// page, and adds the panel that shows the inspected tab's calls (panel.html).
chrome.devtools.panels.create('Cross-Origin Storage', '', 'extension/ui/panel.html');
