// Entry of /widget.js. The build defines __NATTER_APP_PATH__ as the hashed app bundle's path
// relative to the loader's directory (e.g. "widget/app.3F2A9C1B.js").
import { install } from './install';

declare const __NATTER_APP_PATH__: string;

install(window as Window & { Natter?: unknown }, document.currentScript as HTMLScriptElement | null, __NATTER_APP_PATH__);
