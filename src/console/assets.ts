// The console's stylesheet and script, served from /console/assets so the CSP can forbid inline
// code ('self' only). Both are in the program itself, so the single executable carries them.

export const CONSOLE_CSS = `*{box-sizing:border-box}body{margin:0;color:#1f2328;background:#f6f7f9;
font:15px/1.5 -apple-system,BlinkMacSystemFont,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",system-ui,sans-serif}
header{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:center;padding:.6rem 1rem;background:#1f2a44;color:#fff}
header a{color:#fff}.brand{font-weight:600;text-decoration:none;margin-right:auto}.who{font-size:.9rem;opacity:.85}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.2rem;margin:0;padding:.4rem 1rem;background:#fff;border-bottom:1px solid #dde}
nav a{display:block;padding:.3rem .6rem;border-radius:.3rem;text-decoration:none;color:#1f2a44}nav a:hover{background:#eef}
main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.4rem 0 .6rem}
.scroll{overflow-x:auto;background:#fff;border:1px solid #dde;border-radius:.4rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{padding:.4rem .6rem;border-bottom:1px solid #eef;text-align:left;vertical-align:top}
th{background:#f0f2f7;white-space:nowrap}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td{word-break:break-word}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}
form.inline{display:inline}form.stack label{display:block;margin:.5rem 0 .2rem}
input,select,button{font:inherit;padding:.35rem .5rem;border:1px solid #bbc;border-radius:.3rem;background:#fff;max-width:100%}
button{cursor:pointer;background:#1f6feb;border-color:#1f6feb;color:#fff}button.link{background:none;border:none;color:#fff;text-decoration:underline;padding:0}
button.danger{background:#cf222e;border-color:#cf222e}button.quiet{background:#fff;color:#1f2a44}
.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:1rem}.filters label{display:flex;flex-direction:column;font-size:.85rem}
.card{background:#fff;border:1px solid #dde;border-radius:.4rem;padding:1rem;margin-bottom:1rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1rem}
.big{font-size:1.6rem;font-weight:600}.flash{padding:.6rem .8rem;border-radius:.3rem}.flash.ok{background:#dafbe1}.flash.bad{background:#ffebe9}
.status{display:inline-block;padding:0 .4rem;border-radius:.3rem;background:#eef;white-space:nowrap}.status.p0000,.status.r0000,.status.delivered{background:#dafbe1}
.status.p0004,.status.r0004,.status.failed{background:#ffebe9}.warn{color:#9a6700;font-weight:600}.bad{color:#cf222e;font-weight:600}
dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dt{color:#57606a}dd{margin:0;word-break:break-all}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}.key{font-size:1.1rem;padding:.6rem;background:#fff8c5;border:1px solid #d4a72c;word-break:break-all}
.pager{margin:.8rem 0}.empty{color:#57606a}svg text{font-size:11px;fill:#1f2328}
@media (max-width:40rem){main{padding:.6rem}#timeline thead{display:none}#timeline tr{display:block;border-bottom:1px solid #dde;padding:.3rem 0}#timeline td{display:block;border:none;padding:.1rem .5rem}dl.fields{grid-template-columns:1fr}dt{margin-top:.4rem}th,td{padding:.3rem .4rem}}`;

// Progressive enhancement only: every page works without it. It selects a shown key on click
// (for copying), and keeps a double click from submitting a form twice.
export const CONSOLE_JS = `(function(){
document.addEventListener('click',function(e){var k=e.target&&e.target.closest&&e.target.closest('.key');
if(k){var r=document.createRange();r.selectNodeContents(k);var s=window.getSelection();s.removeAllRanges();s.addRange(r);}});
document.addEventListener('submit',function(e){var f=e.target;if(f.getAttribute('data-sent')){e.preventDefault();return;}
if((f.method||'').toLowerCase()==='post')f.setAttribute('data-sent','1');});
})();`;
