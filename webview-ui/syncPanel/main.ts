/** webview-ui/syncPanel: the Sync Panel webview (browser code). */
document.body.dataset['ready'] = 'true';
