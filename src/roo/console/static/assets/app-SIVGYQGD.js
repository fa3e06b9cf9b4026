import"./chunk-EK7ODJWE.js";var re,S,He,kt,O,Me,Fe,he,ge,me,$e,wt,Q={},Oe=[],St=/acit|ex(?:s|g|n|p|$)|rph|grid|ows|mnc|ntw|ine[ch]|zoo|^ord|itera/i,ye=Array.isArray;function F(e,t){for(var n in t)e[n]=t[n];return e}function Le(e){e&&e.parentNode&&e.parentNode.removeChild(e)}function L(e,t,n){var s,o,a,l={};for(a in t)a=="key"?s=t[a]:a=="ref"?o=t[a]:l[a]=t[a];if(arguments.length>2&&(l.children=arguments.length>3?re.call(arguments,2):n),typeof e=="function"&&e.defaultProps!=null)for(a in e.defaultProps)l[a]===void 0&&(l[a]=e.defaultProps[a]);return se(e,l,s,o,null)}function se(e,t,n,s,o){var a={type:e,props:t,key:n,ref:s,__k:null,__:null,__b:0,__e:null,__d:void 0,__c:null,constructor:void 0,__v:o??++He,__i:-1,__u:0};return o==null&&S.vnode!=null&&S.vnode(a),a}function ie(e){return e.children}function oe(e,t){this.props=e,this.context=t}function K(e,t){if(t==null)return e.__?K(e.__,e.__i+1):null;for(var n;t<e.__k.length;t++)if((n=e.__k[t])!=null&&n.__e!=null)return n.__e;return typeof e.type=="function"?K(e):null}function ze(e){var t,n;if((e=e.__)!=null&&e.__c!=null){for(e.__e=e.__c.base=null,t=0;t<e.__k.length;t++)if((n=e.__k[t])!=null&&n.__e!=null){e.__e=e.__c.base=n.__e;break}return ze(e)}}function Ue(e){(!e.__d&&(e.__d=!0)&&O.push(e)&&!ae.__r++||Me!==S.debounceRendering)&&((Me=S.debounceRendering)||Fe)(ae)}function ae(){var e,t,n,s,o,a,l,c;for(O.sort(he);e=O.shift();)e.__d&&(t=O.length,s=void 0,a=(o=(n=e).__v).__e,l=[],c=[],n.__P&&((s=F({},o)).__v=o.__v+1,S.vnode&&S.vnode(s),be(n.__P,s,o,n.__n,n.__P.namespaceURI,32&o.__u?[a]:null,l,a??K(o),!!(32&o.__u),c),s.__v=o.__v,s.__.__k[s.__i]=s,Be(l,s,c),s.__e!=a&&ze(s)),O.length>t&&O.sort(he));ae.__r=0}function We(e,t,n,s,o,a,l,c,r,u,_){var i,d,p,$,m,k=s&&s.__k||Oe,g=t.length;for(n.__d=r,xt(n,t,k),r=n.__d,i=0;i<g;i++)(p=n.__k[i])!=null&&(d=p.__i===-1?Q:k[p.__i]||Q,p.__i=i,be(e,p,d,o,a,l,c,r,u,_),$=p.__e,p.ref&&d.ref!=p.ref&&(d.ref&&ve(d.ref,null,p),_.push(p.ref,p.__c||$,p)),m==null&&$!=null&&(m=$),65536&p.__u||d.__k===p.__k?r=je(p,r,e):typeof p.type=="function"&&p.__d!==void 0?r=p.__d:$&&(r=$.nextSibling),p.__d=void 0,p.__u&=-196609);n.__d=r,n.__e=m}function xt(e,t,n){var s,o,a,l,c,r=t.length,u=n.length,_=u,i=0;for(e.__k=[],s=0;s<r;s++)(o=t[s])!=null&&typeof o!="boolean"&&typeof o!="function"?(l=s+i,(o=e.__k[s]=typeof o=="string"||typeof o=="number"||typeof o=="bigint"||o.constructor==String?se(null,o,null,null,null):ye(o)?se(ie,{children:o},null,null,null):o.constructor===void 0&&o.__b>0?se(o.type,o.props,o.key,o.ref?o.ref:null,o.__v):o).__=e,o.__b=e.__b+1,a=null,(c=o.__i=Ct(o,n,l,_))!==-1&&(_--,(a=n[c])&&(a.__u|=131072)),a==null||a.__v===null?(c==-1&&i--,typeof o.type!="function"&&(o.__u|=65536)):c!==l&&(c==l-1?i--:c==l+1?i++:(c>l?i--:i++,o.__u|=65536))):o=e.__k[s]=null;if(_)for(s=0;s<u;s++)(a=n[s])!=null&&!(131072&a.__u)&&(a.__e==e.__d&&(e.__d=K(a)),Ke(a,a))}function je(e,t,n){var s,o;if(typeof e.type=="function"){for(s=e.__k,o=0;s&&o<s.length;o++)s[o]&&(s[o].__=e,t=je(s[o],t,n));return t}e.__e!=t&&(t&&e.type&&!n.contains(t)&&(t=K(e)),n.insertBefore(e.__e,t||null),t=e.__e);do t=t&&t.nextSibling;while(t!=null&&t.nodeType===8);return t}function Ct(e,t,n,s){var o=e.key,a=e.type,l=n-1,c=n+1,r=t[n];if(r===null||r&&o==r.key&&a===r.type&&!(131072&r.__u))return n;if(s>(r!=null&&!(131072&r.__u)?1:0))for(;l>=0||c<t.length;){if(l>=0){if((r=t[l])&&!(131072&r.__u)&&o==r.key&&a===r.type)return l;l--}if(c<t.length){if((r=t[c])&&!(131072&r.__u)&&o==r.key&&a===r.type)return c;c++}}return-1}function Re(e,t,n){t[0]==="-"?e.setProperty(t,n??""):e[t]=n==null?"":typeof n!="number"||St.test(t)?n:n+"px"}function ne(e,t,n,s,o){var a;e:if(t==="style")if(typeof n=="string")e.style.cssText=n;else{if(typeof s=="string"&&(e.style.cssText=s=""),s)for(t in s)n&&t in n||Re(e.style,t,"");if(n)for(t in n)s&&n[t]===s[t]||Re(e.style,t,n[t])}else if(t[0]==="o"&&t[1]==="n")a=t!==(t=t.replace(/(PointerCapture)$|Capture$/i,"$1")),t=t.toLowerCase()in e||t==="onFocusOut"||t==="onFocusIn"?t.toLowerCase().slice(2):t.slice(2),e.l||(e.l={}),e.l[t+a]=n,n?s?n.u=s.u:(n.u=ge,e.addEventListener(t,a?$e:me,a)):e.removeEventListener(t,a?$e:me,a);else{if(o=="http://www.w3.org/2000/svg")t=t.replace(/xlink(H|:h)/,"h").replace(/sName$/,"s");else if(t!="width"&&t!="height"&&t!="href"&&t!="list"&&t!="form"&&t!="tabIndex"&&t!="download"&&t!="rowSpan"&&t!="colSpan"&&t!="role"&&t!="popover"&&t in e)try{e[t]=n??"";break e}catch{}typeof n=="function"||(n==null||n===!1&&t[4]!=="-"?e.removeAttribute(t):e.setAttribute(t,t=="popover"&&n==1?"":n))}}function Ne(e){return function(t){if(this.l){var n=this.l[t.type+e];if(t.t==null)t.t=ge++;else if(t.t<n.u)return;return n(S.event?S.event(t):t)}}}function be(e,t,n,s,o,a,l,c,r,u){var _,i,d,p,$,m,k,g,b,w,v,A,R,M,y,x,I=t.type;if(t.constructor!==void 0)return null;128&n.__u&&(r=!!(32&n.__u),a=[c=t.__e=n.__e]),(_=S.__b)&&_(t);e:if(typeof I=="function")try{if(g=t.props,b="prototype"in I&&I.prototype.render,w=(_=I.contextType)&&s[_.__c],v=_?w?w.props.value:_.__:s,n.__c?k=(i=t.__c=n.__c).__=i.__E:(b?t.__c=i=new I(g,v):(t.__c=i=new oe(g,v),i.constructor=I,i.render=It),w&&w.sub(i),i.props=g,i.state||(i.state={}),i.context=v,i.__n=s,d=i.__d=!0,i.__h=[],i._sb=[]),b&&i.__s==null&&(i.__s=i.state),b&&I.getDerivedStateFromProps!=null&&(i.__s==i.state&&(i.__s=F({},i.__s)),F(i.__s,I.getDerivedStateFromProps(g,i.__s))),p=i.props,$=i.state,i.__v=t,d)b&&I.getDerivedStateFromProps==null&&i.componentWillMount!=null&&i.componentWillMount(),b&&i.componentDidMount!=null&&i.__h.push(i.componentDidMount);else{if(b&&I.getDerivedStateFromProps==null&&g!==p&&i.componentWillReceiveProps!=null&&i.componentWillReceiveProps(g,v),!i.__e&&(i.shouldComponentUpdate!=null&&i.shouldComponentUpdate(g,i.__s,v)===!1||t.__v===n.__v)){for(t.__v!==n.__v&&(i.props=g,i.state=i.__s,i.__d=!1),t.__e=n.__e,t.__k=n.__k,t.__k.some(function(B){B&&(B.__=t)}),A=0;A<i._sb.length;A++)i.__h.push(i._sb[A]);i._sb=[],i.__h.length&&l.push(i);break e}i.componentWillUpdate!=null&&i.componentWillUpdate(g,i.__s,v),b&&i.componentDidUpdate!=null&&i.__h.push(function(){i.componentDidUpdate(p,$,m)})}if(i.context=v,i.props=g,i.__P=e,i.__e=!1,R=S.__r,M=0,b){for(i.state=i.__s,i.__d=!1,R&&R(t),_=i.render(i.props,i.state,i.context),y=0;y<i._sb.length;y++)i.__h.push(i._sb[y]);i._sb=[]}else do i.__d=!1,R&&R(t),_=i.render(i.props,i.state,i.context),i.state=i.__s;while(i.__d&&++M<25);i.state=i.__s,i.getChildContext!=null&&(s=F(F({},s),i.getChildContext())),b&&!d&&i.getSnapshotBeforeUpdate!=null&&(m=i.getSnapshotBeforeUpdate(p,$)),We(e,ye(x=_!=null&&_.type===ie&&_.key==null?_.props.children:_)?x:[x],t,n,s,o,a,l,c,r,u),i.base=t.__e,t.__u&=-161,i.__h.length&&l.push(i),k&&(i.__E=i.__=null)}catch(B){if(t.__v=null,r||a!=null){for(t.__u|=r?160:128;c&&c.nodeType===8&&c.nextSibling;)c=c.nextSibling;a[a.indexOf(c)]=null,t.__e=c}else t.__e=n.__e,t.__k=n.__k;S.__e(B,t,n)}else a==null&&t.__v===n.__v?(t.__k=n.__k,t.__e=n.__e):t.__e=Et(n.__e,t,n,s,o,a,l,r,u);(_=S.diffed)&&_(t)}function Be(e,t,n){t.__d=void 0;for(var s=0;s<n.length;s++)ve(n[s],n[++s],n[++s]);S.__c&&S.__c(t,e),e.some(function(o){try{e=o.__h,o.__h=[],e.some(function(a){a.call(o)})}catch(a){S.__e(a,o.__v)}})}function Et(e,t,n,s,o,a,l,c,r){var u,_,i,d,p,$,m,k=n.props,g=t.props,b=t.type;if(b==="svg"?o="http://www.w3.org/2000/svg":b==="math"?o="http://www.w3.org/1998/Math/MathML":o||(o="http://www.w3.org/1999/xhtml"),a!=null){for(u=0;u<a.length;u++)if((p=a[u])&&"setAttribute"in p==!!b&&(b?p.localName===b:p.nodeType===3)){e=p,a[u]=null;break}}if(e==null){if(b===null)return document.createTextNode(g);e=document.createElementNS(o,b,g.is&&g),c&&(S.__m&&S.__m(t,a),c=!1),a=null}if(b===null)k===g||c&&e.data===g||(e.data=g);else{if(a=a&&re.call(e.childNodes),k=n.props||Q,!c&&a!=null)for(k={},u=0;u<e.attributes.length;u++)k[(p=e.attributes[u]).name]=p.value;for(u in k)if(p=k[u],u!="children"){if(u=="dangerouslySetInnerHTML")i=p;else if(!(u in g)){if(u=="value"&&"defaultValue"in g||u=="checked"&&"defaultChecked"in g)continue;ne(e,u,null,p,o)}}for(u in g)p=g[u],u=="children"?d=p:u=="dangerouslySetInnerHTML"?_=p:u=="value"?$=p:u=="checked"?m=p:c&&typeof p!="function"||k[u]===p||ne(e,u,p,k[u],o);if(_)c||i&&(_.__html===i.__html||_.__html===e.innerHTML)||(e.innerHTML=_.__html),t.__k=[];else if(i&&(e.innerHTML=""),We(e,ye(d)?d:[d],t,n,s,b==="foreignObject"?"http://www.w3.org/1999/xhtml":o,a,l,a?a[0]:n.__k&&K(n,0),c,r),a!=null)for(u=a.length;u--;)Le(a[u]);c||(u="value",b==="progress"&&$==null?e.removeAttribute("value"):$!==void 0&&($!==e[u]||b==="progress"&&!$||b==="option"&&$!==k[u])&&ne(e,u,$,k[u],o),u="checked",m!==void 0&&m!==e[u]&&ne(e,u,m,k[u],o))}return e}function ve(e,t,n){try{if(typeof e=="function"){var s=typeof e.__u=="function";s&&e.__u(),s&&t==null||(e.__u=e(t))}else e.current=t}catch(o){S.__e(o,n)}}function Ke(e,t,n){var s,o;if(S.unmount&&S.unmount(e),(s=e.ref)&&(s.current&&s.current!==e.__e||ve(s,null,t)),(s=e.__c)!=null){if(s.componentWillUnmount)try{s.componentWillUnmount()}catch(a){S.__e(a,t)}s.base=s.__P=null}if(s=e.__k)for(o=0;o<s.length;o++)s[o]&&Ke(s[o],t,n||typeof e.type!="function");n||Le(e.__e),e.__c=e.__=e.__e=e.__d=void 0}function It(e,t,n){return this.constructor(e,n)}function Ve(e,t,n){var s,o,a,l;S.__&&S.__(e,t),o=(s=typeof n=="function")?null:n&&n.__k||t.__k,a=[],l=[],be(t,e=(!s&&n||t).__k=L(ie,null,[e]),o||Q,Q,t.namespaceURI,!s&&n?[n]:o?null:t.firstChild?re.call(t.childNodes):null,a,!s&&n?n:o?o.__e:t.firstChild,s,l),Be(a,e,l)}re=Oe.slice,S={__e:function(e,t,n,s){for(var o,a,l;t=t.__;)if((o=t.__c)&&!o.__)try{if((a=o.constructor)&&a.getDerivedStateFromError!=null&&(o.setState(a.getDerivedStateFromError(e)),l=o.__d),o.componentDidCatch!=null&&(o.componentDidCatch(e,s||{}),l=o.__d),l)return o.__E=o}catch(c){e=c}throw e}},He=0,kt=function(e){return e!=null&&e.constructor==null},oe.prototype.setState=function(e,t){var n;n=this.__s!=null&&this.__s!==this.state?this.__s:this.__s=F({},this.state),typeof e=="function"&&(e=e(F({},n),this.props)),e&&F(n,e),e!=null&&this.__v&&(t&&this._sb.push(t),Ue(this))},oe.prototype.forceUpdate=function(e){this.__v&&(this.__e=!0,e&&this.__h.push(e),Ue(this))},oe.prototype.render=ie,O=[],Fe=typeof Promise=="function"?Promise.prototype.then.bind(Promise.resolve()):setTimeout,he=function(e,t){return e.__v.__b-t.__v.__b},ae.__r=0,ge=0,me=Ne(!1),$e=Ne(!0),wt=0;var X,E,ke,Ge,ce=0,nt=[],T=S,Je=T.__b,Ye=T.__r,Qe=T.diffed,Xe=T.__c,Ze=T.unmount,et=T.__;function Se(e,t){T.__h&&T.__h(E,e,ce||t),ce=0;var n=E.__H||(E.__H={__:[],__h:[]});return e>=n.__.length&&n.__.push({}),n.__[e]}function h(e){return ce=1,Tt(ot,e)}function Tt(e,t,n){var s=Se(X++,2);if(s.t=e,!s.__c&&(s.__=[n?n(t):ot(void 0,t),function(c){var r=s.__N?s.__N[0]:s.__[0],u=s.t(r,c);r!==u&&(s.__N=[u,s.__[1]],s.__c.setState({}))}],s.__c=E,!E.u)){var o=function(c,r,u){if(!s.__c.__H)return!0;var _=s.__c.__H.__.filter(function(d){return!!d.__c});if(_.every(function(d){return!d.__N}))return!a||a.call(this,c,r,u);var i=!1;return _.forEach(function(d){if(d.__N){var p=d.__[0];d.__=d.__N,d.__N=void 0,p!==d.__[0]&&(i=!0)}}),!(!i&&s.__c.props===c)&&(!a||a.call(this,c,r,u))};E.u=!0;var a=E.shouldComponentUpdate,l=E.componentWillUpdate;E.componentWillUpdate=function(c,r,u){if(this.__e){var _=a;a=void 0,o(c,r,u),a=_}l&&l.call(this,c,r,u)},E.shouldComponentUpdate=o}return s.__N||s.__}function P(e,t){var n=Se(X++,3);!T.__s&&st(n.__H,t)&&(n.__=e,n.i=t,E.__H.__h.push(n))}function xe(e){return ce=5,Pt(function(){return{current:e}},[])}function Pt(e,t){var n=Se(X++,7);return st(n.__H,t)&&(n.__=e(),n.__H=t,n.__h=e),n.__}function qt(){for(var e;e=nt.shift();)if(e.__P&&e.__H)try{e.__H.__h.forEach(le),e.__H.__h.forEach(we),e.__H.__h=[]}catch(t){e.__H.__h=[],T.__e(t,e.__v)}}T.__b=function(e){E=null,Je&&Je(e)},T.__=function(e,t){e&&t.__k&&t.__k.__m&&(e.__m=t.__k.__m),et&&et(e,t)},T.__r=function(e){Ye&&Ye(e),X=0;var t=(E=e.__c).__H;t&&(ke===E?(t.__h=[],E.__h=[],t.__.forEach(function(n){n.__N&&(n.__=n.__N),n.i=n.__N=void 0})):(t.__h.forEach(le),t.__h.forEach(we),t.__h=[],X=0)),ke=E},T.diffed=function(e){Qe&&Qe(e);var t=e.__c;t&&t.__H&&(t.__H.__h.length&&(nt.push(t)!==1&&Ge===T.requestAnimationFrame||((Ge=T.requestAnimationFrame)||At)(qt)),t.__H.__.forEach(function(n){n.i&&(n.__H=n.i),n.i=void 0})),ke=E=null},T.__c=function(e,t){t.some(function(n){try{n.__h.forEach(le),n.__h=n.__h.filter(function(s){return!s.__||we(s)})}catch(s){t.some(function(o){o.__h&&(o.__h=[])}),t=[],T.__e(s,n.__v)}}),Xe&&Xe(e,t)},T.unmount=function(e){Ze&&Ze(e);var t,n=e.__c;n&&n.__H&&(n.__H.__.forEach(function(s){try{le(s)}catch(o){t=o}}),n.__H=void 0,t&&T.__e(t,n.__v))};var tt=typeof requestAnimationFrame=="function";function At(e){var t,n=function(){clearTimeout(s),tt&&cancelAnimationFrame(t),setTimeout(e)},s=setTimeout(n,100);tt&&(t=requestAnimationFrame(n))}function le(e){var t=E,n=e.__c;typeof n=="function"&&(e.__c=void 0,n()),E=t}function we(e){var t=E;e.__c=e.__(),E=t}function st(e,t){return!e||e.length!==t.length||t.some(function(n,s){return n!==e[s]})}function ot(e,t){return typeof t=="function"?t(e):t}var rt=function(e,t,n,s){var o;t[0]=0;for(var a=1;a<t.length;a++){var l=t[a++],c=t[a]?(t[0]|=l?1:2,n[t[a++]]):t[++a];l===3?s[0]=c:l===4?s[1]=Object.assign(s[1]||{},c):l===5?(s[1]=s[1]||{})[t[++a]]=c:l===6?s[1][t[++a]]+=c+"":l?(o=e.apply(c,rt(e,c,n,["",null])),s.push(o),c[0]?t[0]|=2:(t[a-2]=0,t[a]=o)):s.push(c)}return s},at=new Map;function V(e){var t=at.get(this);return t||(t=new Map,at.set(this,t)),(t=rt(this,t.get(e)||(t.set(e,t=function(n){for(var s,o,a=1,l="",c="",r=[0],u=function(d){a===1&&(d||(l=l.replace(/^\s*\n\s*|\s*\n\s*$/g,"")))?r.push(0,d,l):a===3&&(d||l)?(r.push(3,d,l),a=2):a===2&&l==="..."&&d?r.push(4,d,0):a===2&&l&&!d?r.push(5,0,!0,l):a>=5&&((l||!d&&a===5)&&(r.push(a,0,l,o),a=6),d&&(r.push(a,d,0,o),a=6)),l=""},_=0;_<n.length;_++){_&&(a===1&&u(),u(_));for(var i=0;i<n[_].length;i++)s=n[_][i],a===1?s==="<"?(u(),r=[r],a=3):l+=s:a===4?l==="--"&&s===">"?(a=1,l=""):l=s+l[0]:c?s===c?c="":l+=s:s==='"'||s==="'"?c=s:s===">"?(u(),a=1):a&&(s==="="?(a=5,o=l,l=""):s==="/"&&(a<5||n[_][i+1]===">")?(u(),a===3&&(r=r[0]),a=r,(r=r[0]).push(2,0,a),a=0):s===" "||s==="	"||s===`
`||s==="\r"?(u(),a=2):l+=s),a===3&&l==="!--"&&(a=4,r=r[0])}return u(),r}(e)),t),arguments,[])).length>1?t:t[0]}var pe="/api/v1",Z="roo.console.refresh",H=null,ue=null,Ce=()=>{},N=class extends Error{constructor(t,n){super(n?.detail||n?.title||`HTTP ${t}`),this.status=t,this.problem=n||{}}};function it(e){Ce=e}function lt(){return H!==null}function de(){return sessionStorage.getItem(Z)!==null}function ct(e){return H=e.token,sessionStorage.setItem(Z,e.refreshToken),e.user}function Ee(){H=null,sessionStorage.removeItem(Z)}async function Ie(e){try{return await e.json()}catch{return{title:e.statusText}}}function ut(){let e=new URLSearchParams(location.hash.slice(1)),t=e.get("token"),n=e.get("refreshToken");return!t||!n?!1:(H=t,sessionStorage.setItem(Z,n),history.replaceState(null,"",location.pathname+location.search),!0)}async function pt(e,t){let n=await fetch(`${pe}/auth/login`,{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({email:e,password:t})});if(!n.ok)throw new N(n.status,await Ie(n));return ct(await n.json())}function G(){return ue||(ue=(async()=>{let e=sessionStorage.getItem(Z);if(!e)throw new N(401,{title:"Not signed in"});let t=await fetch(`${pe}/auth/refresh`,{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({refreshToken:e})});if(!t.ok)throw Ee(),new N(t.status,await Ie(t));return ct(await t.json())})().finally(()=>{ue=null})),ue}async function dt(){try{H&&await D("POST","/auth/logout",void 0,{retry:!1})}catch{}finally{Ee()}}async function D(e,t,n,s={}){let{raw:o=!1,headers:a={},retry:l=!0}=s,c={method:e,headers:{...a}};H&&(c.headers.Authorization=`Bearer ${H}`),n!==void 0&&(typeof n=="string"||n instanceof Blob||n instanceof ArrayBuffer?c.body=n:(c.body=JSON.stringify(n),c.headers["Content-Type"]="application/json"));let r=await fetch(pe+t,c);if(r.status===401&&l&&de()){try{await G()}catch(u){throw Ce(),u}return D(e,t,n,{...s,retry:!1})}if(r.status===401&&(Ee(),Ce()),!r.ok&&r.status!==304)throw new N(r.status,await Ie(r));return o?r:r.status===204?null:r.json()}var U=e=>D("GET",e),z=(e,t)=>D("POST",e,t),W=(e,t)=>D("PUT",e,t),J=e=>D("DELETE",e);function Te(e,t,n,s,o=!0){return new Promise((a,l)=>{let c=new XMLHttpRequest;c.open("POST",pe+e),H&&c.setRequestHeader("Authorization",`Bearer ${H}`),c.setRequestHeader("Content-Type",n),c.upload.onprogress=r=>s(r.loaded,r.lengthComputable?r.total:t.size),c.onerror=()=>l(new N(0,{title:"The upload failed (network)"})),c.onload=()=>{let r=null;try{r=JSON.parse(c.responseText)}catch{r={title:c.statusText}}c.status===401&&o&&de()?G().then(()=>Te(e,t,n,s,!1).then(a,l),l):c.status>=200&&c.status<300?a(r):l(new N(c.status,r))},c.send(t)})}var Mt=new Set([1e3,1001,1005,1006,1011,1012,4408]),_e=class{constructor(t,{onEvent:n,onHello:s,onStatus:o}){this.sessionId=t,this.onEvent=n,this.onHello=s,this.onStatus=o,this.lastSeq=0,this.socket=null,this.closed=!1,this.delay=500,this.pending=new Map,this.nextId=1,this.connects=0}async open(){if(this.closed)return;this.onStatus("connecting");let t;try{({ticket:t}=await z(`/sessions/${this.sessionId}/ws-ticket`))}catch(a){if(a.status===404||a.status===401||a.status===403){this.onStatus("closed");return}this.retry();return}if(this.closed)return;let s=`${location.protocol==="https:"?"wss":"ws"}://${location.host}/api/v1/sessions/${this.sessionId}/ws?ticket=${encodeURIComponent(t)}&lastSeq=${this.lastSeq}`,o=new WebSocket(s);this.socket=o,o.onmessage=a=>this.receive(JSON.parse(a.data)),o.onclose=a=>this.dropped(o,a.code)}receive(t){if(t.seq!==void 0){if(t.seq<=this.lastSeq)return;this.lastSeq=t.seq,this.onEvent(t);return}if(t.type==="hello")this.connects+=1,this.delay=500,this.onStatus("live"),this.onHello(t);else if((t.type==="ack"||t.type==="error")&&this.pending.has(t.id)){let{resolve:n,reject:s}=this.pending.get(t.id);this.pending.delete(t.id),t.type==="ack"?n(t.task):s(Object.assign(new Error(t.problem?.detail||t.problem?.title),t.problem))}}async dropped(t,n){if(t===this.socket){this.socket=null;for(let{reject:s}of this.pending.values())s(new Error("connection lost"));if(this.pending.clear(),!this.closed)if(n===4401){try{await G()}catch{this.onStatus("closed");return}this.retry()}else Mt.has(n)?this.retry():this.onStatus("closed")}}retry(){this.onStatus("reconnecting");let t=this.delay*(.75+Math.random()/2);this.delay=Math.min(this.delay*2,1e4),setTimeout(()=>this.open(),t)}send(t){if(!this.socket||this.socket.readyState!==WebSocket.OPEN)return Promise.reject(new Error("not connected: try again in a moment"));let n=`c${this.nextId++}`;return new Promise((s,o)=>{this.pending.set(n,{resolve:s,reject:o}),this.socket.send(JSON.stringify({...t,id:n}))})}close(){this.closed=!0,this.socket&&this.socket.close(1e3),this.socket=null}};function Pe(e){if(Array.isArray(e))return e;let t=[];for(let n of String(e||"").split(`
`)){let s=n.match(/^\s*(?:[-*]\s*)?\[( |x|X|-|~)\]\s*(.*)$/);s&&t.push({status:s[1]===" "?"pending":s[1]==="-"||s[1]==="~"?"in_progress":"completed",content:s[2]})}return t}function qe(){return{items:[],calls:new Map,asks:new Map,tasks:new Map,count:0,lastSeq:0}}function Ut(e,t){return e.tasks.has(t)||e.tasks.set(t,{id:t,state:"queued",todos:[],usage:null}),e.tasks.get(t)}function _t(e,t){let n=t.data||{},s=e.items,o=s[s.length-1];e.count+=1,e.lastSeq=t.seq;let a=t.taskId?Ut(e,t.taskId):null;switch(t.event){case"task.created":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Task started: ${n.mode||""} ${n.model||""}`.trim()}),n.mode&&(a.mode=n.mode);break;case"task.state":a.state=n.to;break;case"message":o&&o.type==="text"&&o.kind===n.kind&&o.taskId===t.taskId?o.text+=n.delta:s.push({type:"text",seq:t.seq,taskId:t.taskId,kind:n.kind,text:n.delta});break;case"tool.execution":if(n.phase==="start"){let l={type:"tool",seq:t.seq,taskId:t.taskId,callId:n.callId,tool:n.tool,params:n.params||{},output:"",end:null};e.calls.set(n.callId,l),s.push(l)}else{let l=e.calls.get(n.callId);if(!l)break;n.phase==="output"?l.output+=n.output||"":n.phase==="end"&&(l.end=n)}break;case"approval.required":{let l={type:"ask",seq:t.seq,taskId:t.taskId,...n,resolved:null};e.asks.set(n.approvalId,l),s.push(l);break}case"approval.resolved":{let l=e.asks.get(n.approvalId);l&&(l.resolved=n);break}case"task.todos":a.todos=Pe(n.todos);break;case"task.progress":a.usage=n;break;case"task.mode":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Mode: ${n.from||"?"} \u2192 ${n.to||n.mode||"?"}`});break;case"task.complete":s.push({type:"complete",seq:t.seq,taskId:t.taskId,result:n.result||"",usage:n.usage});break;case"task.cancelled":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Cancelled${n.reason?`: ${n.reason}`:""}`});break;case"task.interrupted":s.push({type:"error",seq:t.seq,taskId:t.taskId,text:`Interrupted: ${n.message||n.reason||""}`});break;case"error.occurred":s.push({type:"error",seq:t.seq,taskId:t.taskId,text:`${n.reason||"error"}: ${n.message||""}`});break;case"task.delegated":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:"Subtask started"});break;default:break}}var q=V.bind(L),ee=e=>e.split("/").map(encodeURIComponent).join("/");function ft({sessionId:e}){let t=`/sessions/${e}/files`,[n,s]=h([]),[o,a]=h(null),[l,c]=h(""),[r,u]=h(!1),[_,i]=h(null),[d,p]=h(null),[$,m]=h(!1),[k,g]=h(null),b=()=>D("GET",`${t}?recursive=true&limit=2000`).then(y=>s(y.entries),p);P(()=>{b()},[e]),P(()=>{if(!o||o.encoding!=="utf-8"||$)return;let y=!1;return import("./highlight-5T3XMCP6.js").then(x=>{let I=x.highlight(o.text,o.path);y||g(I&&{...I,path:o.path,etag:o.etag})},()=>null),()=>{y=!0}},[o&&o.path,o&&o.etag,$]);async function w(y){p(null),i(null),u(!1);try{let x=await D("GET",`${t}/${ee(y)}?format=json`);a(x),c(x.encoding==="utf-8"?x.text:"")}catch(x){p(x)}}async function v(y){y.preventDefault(),p(null),i(null);try{let I=await(await D("PUT",`${t}/${ee(o.path)}`,new Blob([l]),{raw:!0,headers:{"Content-Type":"application/octet-stream","If-Match":o.etag}})).json();a({...o,etag:I.etag,text:l,size:I.size}),u(!1),i("Saved."),b()}catch(x){x.status===412?u(!0):p(x)}}async function A(y){let x=y.target.files[0];if(!x)return;let I=o&&o.path.includes("/")?o.path.slice(0,o.path.lastIndexOf("/")+1):"";p(null),i(null);try{await D("POST",`${t}/${ee(I+x.name)}`,x,{headers:{"Content-Type":"application/octet-stream"}}),await b(),await w(I+x.name),i(`Uploaded ${I+x.name}.`)}catch(B){p(B)}finally{y.target.value=""}}async function R(){if(confirm(`Delete ${o.path}?`))try{await D("DELETE",`${t}/${ee(o.path)}`),a(null),b()}catch(y){p(y)}}let M=k&&o&&k.path===o.path&&k.etag===o.etag?k:null;return q`<section class="files">
    <nav class="tree" aria-label="Workspace files">
      <div class="row">
        <button class="link" onClick=${b}>↻ Refresh</button>
        <label class="upload">Upload <input type="file" aria-label="Upload a file" onChange=${A} /></label>
      </div>
      <ul>
        ${n.map(y=>q`<li key=${y.path} class=${`depth-${Math.min(y.path.split("/").length-1,6)}`}>
            ${y.type==="file"?q`<button class="link file" data-path=${y.path} onClick=${()=>w(y.path)}>${y.name}</button>`:q`<span class="dir">${y.name}${y.type==="dir"?"/":""}</span>`}
          </li>`)}
      </ul>
    </nav>
    <div class="editor">
      ${o?q`<form onSubmit=${v}>
            <div class="row"><code data-open-path=${o.path}>${o.path}</code><span class="muted">${o.size} bytes</span>
              <span class="spacer"></span>
              <a href="#" class="link" onClick=${y=>(y.preventDefault(),Nt(t,o.path))}>Download</a>
              <button type="button" class="deny" onClick=${R}>Delete</button>
              ${o.encoding==="utf-8"?$?q`<button type="button" onClick=${()=>m(!1)} disabled=${l!==o.text}
                      title=${l!==o.text?"Save or reload first":"Highlighted, read only"}>View</button>`:q`<button type="button" onClick=${()=>m(!0)}>Edit</button>`:null}
              ${$&&o.encoding==="utf-8"?q`<button type="submit">Save</button>`:null}
            </div>
            ${r?q`<div class="conflict" role="alert">
                  This file changed since you opened it; your edit was not saved.
                  <button type="button" onClick=${()=>w(o.path)}>Load their version (drops yours)</button>
                </div>`:null}
            ${_?q`<p class="good" role="status">${_}</p>`:null}
            ${o.encoding!=="utf-8"?q`<p class="muted">A binary file: download it.</p>`:$?q`<textarea class="code" spellcheck="false" aria-label="File content" value=${l} onInput=${y=>c(y.target.value)}></textarea>`:q`<pre class="code view" aria-label="File content (read only)" tabindex="0" data-language=${M?M.language:""}>${M?M.nodes.map(ht):o.text}</pre>`}
          </form>`:q`<p class="muted">Pick a file.</p>`}
      <${Rt} error=${d} />
    </div>
  </section>`}function ht(e){return typeof e=="string"?e:q`<span class=${e.cls}>${e.children.map(ht)}</span>`}function Rt({error:e}){return e?q`<p class="error" role="alert">${e.message}</p>`:null}async function Nt(e,t){let n=await D("GET",`${e}/${ee(t)}`,void 0,{raw:!0}),s=URL.createObjectURL(await n.blob()),o=document.createElement("a");o.href=s,o.download=t.split("/").pop(),o.click(),setTimeout(()=>URL.revokeObjectURL(s),1e3)}var C=V.bind(L),mt=["viewer","member","admin"],Ht=["anthropic","openai"],fe=e=>e?new Date(e).toLocaleString():"\u2014";function Y({error:e}){return e?C`<p class="error" role="alert">${e.message}</p>`:null}function Ft({permissions:e}){let[t,n]=h([]),[s,o]=h(null),[a,l]=h(!1),[c,r]=h(null),u=()=>U("/auth/api-keys").then(n,r);P(()=>{u()},[]);async function _(p){p.preventDefault();let $=new FormData(p.target),m={name:$.get("name"),scopes:$.getAll("scope")};$.get("expires")&&(m.expiresAt=new Date(`${$.get("expires")}T23:59:59Z`).toISOString()),r(null);try{o(await z("/auth/api-keys",m)),l(!1),p.target.reset(),u()}catch(k){r(k)}}async function i(p){if(confirm(`Revoke the key "${p.name}"? Programs using it stop working.`))try{await J(`/auth/api-keys/${p.id}`),u()}catch($){r($)}}async function d(){try{await navigator.clipboard.writeText(s.key),l(!0)}catch{l(!1)}}return C`<section aria-labelledby="keys-title">
    <h2 id="keys-title">API keys</h2>
    ${s?C`<div class="created-key" role="status">
          <p>The key <strong>${s.name}</strong>: copy it now, it is not shown again.</p>
          <div class="row"><code class="secret" data-secret>${s.key}</code>
            <button type="button" onClick=${d}>${a?"Copied":"Copy"}</button>
            <button type="button" onClick=${()=>o(null)}>Done</button></div>
        </div>`:null}
    <table class="table">
      <thead><tr><th>Name</th><th>Key</th><th>Scopes</th><th>Created</th><th>Last used</th><th>Expires</th><th></th></tr></thead>
      <tbody>
        ${t.map(p=>C`<tr key=${p.id} data-key=${p.name} class=${p.revokedAt?"revoked":""}>
            <td>${p.name}</td><td><code>${p.prefix}…</code></td><td>${p.scopes.join(", ")}</td>
            <td>${fe(p.createdAt)}</td><td>${fe(p.lastUsedAt)}</td><td>${fe(p.expiresAt)}</td>
            <td>${p.revokedAt?C`<span class="muted">revoked</span>`:C`<button class="deny" onClick=${()=>i(p)} aria-label=${`Revoke ${p.name}`}>Revoke</button>`}</td>
          </tr>`)}
      </tbody>
    </table>
    <form class="newkey" onSubmit=${_} aria-label="Create an API key">
      <label>Name <input name="name" required maxlength="100" /></label>
      <fieldset><legend>Scopes</legend>
        ${e.map(p=>C`<label class="check"><input type="checkbox" name="scope" value=${p} checked=${p.endsWith(":read")} /> ${p}</label>`)}
      </fieldset>
      <label>Expires (optional) <input name="expires" type="date" /></label>
      <button type="submit">Create key</button>
    </form>
    <${Y} error=${c} />
  </section>`}var te=50;function Ot({me:e}){let[t,n]=h([]),[s,o]=h(0),[a,l]=h(0),[c,r]=h(null),u=(i=s)=>U(`/users?limit=${te}&offset=${i}`).then(d=>{n(d.items),l(d.total)},r);P(()=>{u(s)},[s]);async function _(i,d){r(null);try{await D("PATCH",`/users/${i.id}`,d)}catch(p){r(p)}u()}return C`<section aria-labelledby="users-title">
    <h2 id="users-title">Users</h2>
    <table class="table">
      <thead><tr><th>Email</th><th>Role</th><th>Disabled</th><th>Last sign-in</th></tr></thead>
      <tbody>
        ${t.map(i=>C`<tr key=${i.id} data-user-row=${i.email}>
            <td>${i.email}</td>
            <td><select aria-label=${`Role of ${i.email}`} value=${mt.filter(d=>i.roles.includes(d)).pop()||"viewer"}
                 disabled=${i.id===e.userId} onChange=${d=>_(i,{roles:[d.target.value]})}>
              ${mt.map(d=>C`<option value=${d}>${d}</option>`)}</select></td>
            <td><input type="checkbox" aria-label=${`Disable ${i.email}`} checked=${i.disabled} disabled=${i.id===e.userId}
                 onChange=${d=>_(i,{disabled:d.target.checked})} /></td>
            <td>${fe(i.lastLoginAt)}</td>
          </tr>`)}
      </tbody>
    </table>
    <p class="pager">
      <span>${a?`${s+1}\u2013${Math.min(s+te,a)} of ${a}`:"No users"}</span>
      <button type="button" disabled=${s===0} onClick=${()=>o(Math.max(0,s-te))}>Previous users</button>
      <button type="button" disabled=${s+te>=a} onClick=${()=>o(s+te)}>Next users</button>
    </p>
    <${Y} error=${c} />
  </section>`}function Lt(){let[e,t]=h(null),[n,s]=h(null),[o,a]=h(null);P(()=>{U("/auth/profile").then(t,a)},[]);async function l(r){r.preventDefault(),a(null);try{t(await W("/auth/profile",{displayName:new FormData(r.target).get("displayName")})),s("Profile saved.")}catch(u){a(u)}}async function c(r){r.preventDefault();let u=new FormData(r.target);a(null);try{await W("/auth/password",{currentPassword:u.get("current"),newPassword:u.get("new"),revokeApiKeys:u.get("revoke")==="on"}),r.target.reset(),s("Password changed: sign in again."),setTimeout(()=>location.reload(),1500)}catch(_){a(_)}}return e?C`<section aria-labelledby="profile-title">
    <h2 id="profile-title">Profile</h2>
    <form class="row" onSubmit=${l} aria-label="Profile">
      <label>Display name <input name="displayName" value=${e.displayName} maxlength="100" /></label>
      <button type="submit">Save profile</button>
    </form>
    ${e.provider==="local"?C`<form class="row" onSubmit=${c} aria-label="Change password">
          <label>Current password <input name="current" type="password" autocomplete="current-password" required /></label>
          <label>New password <input name="new" type="password" autocomplete="new-password" minlength="12" required /></label>
          <label class="check"><input name="revoke" type="checkbox" checked /> revoke my API keys</label>
          <button type="submit">Change password</button>
        </form>`:null}
    ${n?C`<p class="good" role="status">${n}</p>`:null}
    <${Y} error=${o} />
  </section>`:C`<${Y} error=${o} />`}function zt(){let[e,t]=h([]),[n,s]=h(null),o=()=>U("/auth/providers").then(t,s);P(()=>{o()},[]);async function a(c,r){c.preventDefault();let u=new FormData(c.target),_={};if(u.get("apiKey")&&(_.apiKey=u.get("apiKey")),u.get("baseUrl")&&(_.baseUrl=u.get("baseUrl")),!!Object.keys(_).length){s(null);try{await W(`/auth/providers/${r}`,_),c.target.reset(),o()}catch(i){s(i)}}}async function l(c){try{await J(`/auth/providers/${c}`),o()}catch(r){s(r)}}return C`<section aria-labelledby="providers-title">
    <h2 id="providers-title">Model provider keys</h2>
    <p class="muted">Your own keys for the agent's model requests; without one, the service's are used. A key is never shown again.</p>
    ${Ht.map(c=>{let r=e.find(u=>u.provider===c);return C`<form class="row provider" key=${c} data-provider=${c} onSubmit=${u=>a(u,c)} aria-label=${`${c} key`}>
        <strong>${c}</strong>
        <span class="muted">${r?`${r.hasApiKey?`key ${r.keyHint||"stored"}`:"no key"}${r.baseUrl?` \xB7 ${r.baseUrl}`:""}`:"not set"}</span>
        <input name="apiKey" type="password" autocomplete="off" placeholder="API key" aria-label=${`${c} API key`} />
        <input name="baseUrl" type="url" placeholder="Base URL (optional)" aria-label=${`${c} base URL`} />
        <button type="submit">Save</button>
        ${r?C`<button type="button" class="deny" onClick=${()=>l(c)}>Remove</button>`:null}
      </form>`})}
    <${Y} error=${n} />
  </section>`}function $t(){let[e,t]=h(null),[n,s]=h(null);return P(()=>{U("/auth/whoami").then(t,s)},[]),e?C`<section class="session account">
    <h1>Account</h1>
    <p><strong>${e.email}</strong> <span class="muted">· ${e.roles.join(", ")}</span></p>
    <${Lt} />
    ${e.permissions.includes("profile:write")?C`<${zt} />`:null}
    ${e.permissions.includes("apikeys:manage")?C`<${Ft} permissions=${e.permissions} />`:null}
    ${e.permissions.includes("users:admin")?C`<${Ot} me=${e} />`:null}
  </section>`:C`<section class="session"><${Y} error=${n} /></section>`}var f=V.bind(L),Ae=200,De=new Set(["queued","running","awaiting_approval","awaiting_input"]);function gt(){if(location.hash==="#/account")return{sessionId:null,tab:"account"};let[,e,t]=location.hash.match(/^#\/s\/([0-9a-f-]+)(?:\/(files))?/)||[];return{sessionId:e||null,tab:t||"task"}}function Wt(){let[e,t]=h(gt());return P(()=>{let n=()=>t(gt());return window.addEventListener("hashchange",n),()=>window.removeEventListener("hashchange",n)},[]),e}function j({error:e}){if(!e)return null;let t=Array.isArray(e.problem?.errors)?e.problem.errors:[];return f`<div class="error" role="alert">
    <p>${e.message||String(e)}</p>
    ${t.length?f`<ul>${t.map(n=>f`<li data-field=${n.field}>${String(n.field||"").split(".").pop()}: ${n.message}</li>`)}</ul>`:null}
  </div>`}function jt({onSignedIn:e}){let[t,n]=h(null),[s,o]=h(!1),[a,l]=h([]);P(()=>{U("/auth/oauth/providers").then(r=>l(r.providers),()=>l([]))},[]);async function c(r){r.preventDefault();let u=new FormData(r.target);o(!0),n(null);try{e(await pt(u.get("email"),u.get("password")))}catch(_){n(_)}finally{o(!1)}}return f`<main class="signin">
    <form onSubmit=${c} aria-label="Sign in">
      <h1>roo console</h1>
      <label>Email <input name="email" type="email" autocomplete="username" required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit" disabled=${s}>Sign in</button>
      ${a.map(r=>f`<a class="button" href=${`/api/v1/auth/oauth/${encodeURIComponent(r.name)}/authorize`}>Sign in with ${r.displayName}</a>`)}
      <${j} error=${t} />
    </form>
  </main>`}var yt=[["maxMemoryMB","Memory (MB)","512"],["maxCpuPercent","CPU (%)","100"],["maxDiskMB","Disk (MB)","1024"],["maxExecutionTime","Command time (s)","300"],["maxConcurrentTasks","Tasks at once","1"]];function Bt(e){let t=e.toLowerCase();return t.endsWith(".zip")?"application/zip":t.endsWith(".tar")?"application/x-tar":t.endsWith(".tar.gz")||t.endsWith(".tgz")?"application/gzip":t.endsWith(".tar.bz2")?"application/x-bzip2":t.endsWith(".tar.xz")?"application/x-xz":"application/octet-stream"}function Kt({current:e,onChange:t,version:n}){let[s,o]=h([]),[a,l]=h(null),c=()=>U("/sessions?limit=100").then(d=>o(d.items),l);P(()=>{c()},[n]);let[r,u]=h(null);async function _(d){d.preventDefault();let p=new FormData(d.target),$=p.get("name").trim(),m={};for(let[w]of yt){let v=String(p.get(w)||"").trim();v&&(m[w]=Number(v))}let k=p.get("archive"),g=k&&k.size?k:null;l(null),u(null);let b;try{b=await z("/sessions",{...$?{name:$}:{},...Object.keys(m).length?{config:{limits:m}}:{}})}catch(w){l(w);return}if(d.target.reset(),await c(),!g){location.hash=`#/s/${b.id}`;return}try{u({name:g.name,sent:0,total:g.size});let w=await Te(`/sessions/${b.id}/workspace/import`,g,Bt(g.name),(v,A)=>u({name:g.name,sent:v,total:A}));u({name:g.name,sent:g.size,total:g.size,done:w})}catch(w){u(null),l(new N(w.status,{...w.problem,detail:`Session "${b.name}" created, but its archive was not imported: ${w.message}`}))}location.hash=`#/s/${b.id}/files`}async function i(d){if(confirm(`Delete session "${d.name}" and its workspace?`))try{await J(`/sessions/${d.id}`),e===d.id&&(location.hash="#/"),await c(),t()}catch(p){l(p)}}return f`<nav class="sessions" aria-label="Sessions">
    <form onSubmit=${_} class="create" aria-label="Create a session">
      <div class="row">
        <input name="name" placeholder="New session name" aria-label="New session name" maxlength="200" />
        <button type="submit" disabled=${r&&!r.done}>Create</button>
      </div>
      <details>
        <summary>Limits and archive</summary>
        <p class="muted">Empty: the default (shown). At most your role's quota.</p>
        ${yt.map(([d,p,$])=>f`<label class="limit">${p}
            <input name=${d} type="number" min="1" step="1" inputmode="numeric" placeholder=${$} aria-label=${p} />
          </label>`)}
        <label class="limit">Start from an archive
          <input name="archive" type="file" accept=".zip,.tar,.tgz,.tar.gz,.tar.bz2,.tar.xz" aria-label="Start from an archive" />
        </label>
      </details>
    </form>
    ${r?f`<p class="muted" role="status" data-import=${r.done?"done":"sending"}>
          ${r.done?`Imported ${r.name}: ${r.done.files} files${r.done.directories?`, ${r.done.directories} folders`:""}.`:f`Importing ${r.name}… <progress max=${r.total||1} value=${r.sent}></progress>`}
        </p>`:null}
    <${j} error=${a} />
    <ul>
      ${s.map(d=>f`<li key=${d.id} class=${d.id===e?"current":""}>
          <a href=${`#/s/${d.id}`}>${d.name}</a>
          <span class="muted">${d.state}</span>
          <button class="icon" title="Delete session" aria-label=${`Delete ${d.name}`} onClick=${()=>i(d)}>✕</button>
        </li>`)}
    </ul>
  </nav>`}function vt({params:e}){let t=Object.entries(e||{});return f`<dl class="params">
    ${t.map(([n,s])=>f`<dt>${n}</dt><dd><pre>${typeof s=="string"?s:JSON.stringify(s,null,2)}</pre></dd>`)}
  </dl>`}function Vt({diff:e,truncated:t}){if(e==null)return f`<p class="muted">The change is too large to show.</p>`;let n=s=>s.startsWith("+++")||s.startsWith("---")?"file":s[0]==="+"?"add":s[0]==="-"?"del":s[0]==="@"?"hunk":"";return f`<pre class="diff">${e.replace(/\n$/,"").split(`
`).map(s=>f`<span class=${n(s)}>${s}</span>`)}</pre>
    ${t?f`<p class="muted">(diff cut)</p>`:null}`}function Gt({ask:e,act:t}){let[n,s]=h(""),[o,a]=h(null),l=(c,r)=>t(e.taskId,{action:c,approvalId:e.approvalId,...r?{text:r,feedback:r}:{}}).catch(a);return e.resolved?f`<div class="ask resolved" data-approval=${e.approvalId}>
      <strong>${e.kind==="followup"?"Question":"Approval"}</strong> ${e.text||e.tool}
      <span class="muted"> — ${e.resolved.action}${e.resolved.text?`: ${e.resolved.text}`:""}</span>
    </div>`:e.kind==="followup"?f`<div class="ask open" data-approval=${e.approvalId}>
      <p><strong>Question:</strong> ${e.text}</p>
      <div class="row">
        ${(e.suggestions||[]).map(c=>{let r=typeof c=="string"?c:c.text||c.answer;return f`<button class="suggestion" onClick=${()=>l("answer",r)}>${r}</button>`})}
      </div>
      <form class="row" onSubmit=${c=>(c.preventDefault(),l("answer",n))}>
        <input value=${n} onInput=${c=>s(c.target.value)} placeholder="Your answer" aria-label="Your answer" />
        <button type="submit">Answer</button>
      </form>
      <${j} error=${o} />
    </div>`:f`<div class="ask open" data-approval=${e.approvalId}>
    <p><strong>Approve ${e.tool||e.kind}?</strong></p>
    ${e.kind==="command"?f`<pre class="command">${e.text}</pre>`:f`<${vt} params=${e.params} />`}
    <div class="row">
      <button class="approve" onClick=${()=>l("approve",n)}>Approve</button>
      <button onClick=${()=>l("approve_always",n)}>Always</button>
      <input value=${n} onInput=${c=>s(c.target.value)} placeholder="Feedback (optional)" aria-label="Feedback" />
      <button class="deny" onClick=${()=>l("deny",n)}>Deny</button>
    </div>
    <${j} error=${o} />
  </div>`}function Jt({item:e,act:t}){switch(e.type){case"text":return e.kind==="reasoning"?f`<details class="reasoning"><summary>Reasoning</summary><p>${e.text}</p></details>`:f`<p class="assistant">${e.text}</p>`;case"tool":return f`<div class="tool" data-call=${e.callId}>
        <div class="tool-head"><code>${e.tool}</code>
          ${e.end?f`<span class=${e.end.isError?"bad":"good"}>${e.end.isError?"failed":"done"} (${e.end.durationMs} ms)</span>`:f`<span class="muted">running…</span>`}
        </div>
        ${e.tool==="execute_command"?f`<pre class="command">$ ${e.params.command}</pre>`:f`<details><summary>parameters</summary><${vt} params=${e.params} /></details>`}
        ${e.output?f`<pre class="output">${e.output}</pre>`:null}
        ${e.end&&e.end.data&&"diff"in e.end.data?f`<${Vt} diff=${e.end.data.diff} truncated=${e.end.data.diffTruncated} />`:null}
      </div>`;case"ask":return f`<${Gt} ask=${e} act=${t} />`;case"complete":return f`<div class="complete"><strong>Completed</strong><p>${e.result}</p></div>`;case"error":return f`<p class="error">${e.text}</p>`;default:return f`<p class="note muted">${e.text}</p>`}}function Yt({sessionId:e,disabled:t,onError:n}){let[s,o]=h([]),[a,l]=h("");P(()=>{U(`/sessions/${e}/modes`).then(r=>(o(r.modes||r.items||[]),l(r.defaultMode||"")),()=>o([]))},[e]);async function c(r){r.preventDefault();let u=new FormData(r.target),_={};u.get("mode")&&(_.mode=u.get("mode")),u.get("model").trim()&&(_.model=u.get("model").trim());try{await z(`/sessions/${e}/tasks`,{input:u.get("input"),config:_}),r.target.reset()}catch(i){n(i)}}return f`<form class="newtask" onSubmit=${c} aria-label="Start a task">
    <textarea name="input" required maxlength="10000" rows="3" placeholder="What should the agent do?" aria-label="What should the agent do?"></textarea>
    <div class="row">
      <label>Mode <select name="mode" aria-label="Mode" value=${a} onChange=${r=>l(r.target.value)}>${s.map(r=>f`<option value=${r.slug}>${r.name}</option>`)}</select></label>
      <label>Model <input name="model" placeholder="default" /></label>
      <button type="submit" disabled=${t}>Start task</button>
    </div>
  </form>`}function Qt({sessionId:e}){let[,t]=h(0),[n,s]=h("connecting"),[o,a]=h(null),l=xe(null),c=xe(null),[r,u]=h(""),[_,i]=h(Ae);P(()=>{l.current=qe();let v=0,A=()=>{v||(v=requestAnimationFrame(()=>(v=0,t(M=>M+1))))},R=new _e(e,{onEvent:M=>(_t(l.current,M),A()),onHello:M=>{for(let y of M.state?.tasks||[]){let x=l.current.tasks.get(y.id)||{id:y.id,todos:[]};l.current.tasks.set(y.id,{...x,state:y.state,todos:y.todos?Pe(y.todos):x.todos})}A()},onStatus:s});return c.current=R,R.open(),()=>(R.close(),v&&cancelAnimationFrame(v))},[e]);let d=l.current||qe(),p=[...d.tasks.values()],$=p.filter(v=>De.has(v.state)),m=$[$.length-1]||p[p.length-1],k=(v,A)=>W(`/sessions/${e}/tasks/${v}`,A),g=()=>J(`/sessions/${e}/tasks/${m.id}`).catch(a);async function b(v){v.preventDefault();try{await k(m.id,{action:"message",text:r}),u("")}catch(A){a(A)}}let w=m?.usage?.usage||m?.usage?.taskUsage||null;return f`<section class="taskpanel">
    <div class="status row">
      <span class=${`dot ${n}`} data-status=${n}>${n}</span>
      ${m?f`<span>task <code>${m.id.slice(0,8)}</code>: <strong data-task-state=${m.state}>${m.state}</strong></span>`:null}
      ${w?f`<span class="muted">${w.inputTokens??w.input_tokens??0} in / ${w.outputTokens??w.output_tokens??0} out${w.cost!=null?` \xB7 $${Number(w.cost).toFixed(4)}`:""}</span>`:null}
      ${m&&De.has(m.state)?f`<button class="deny" onClick=${g}>Cancel task</button>`:null}
    </div>
    ${m?.todos?.length?f`<ul class="todos" aria-label="Todo list">${m.todos.map(v=>f`<li class=${v.status} data-todo=${v.status}>${v.content}</li>`)}</ul>`:null}
    <div class="timeline" aria-live="polite" data-event-count=${d.count} data-last-seq=${d.lastSeq}>
      ${d.items.length>_?f`<button class="link" onClick=${()=>i(_+Ae)}>Show ${Math.min(Ae,d.items.length-_)} earlier of ${d.items.length-_}</button>`:null}
      ${d.items.slice(-_).map(v=>f`<${Jt} key=${v.seq} item=${v} act=${k} />`)}
    </div>
    <${j} error=${o} />
    ${m&&m.state!=="queued"&&(De.has(m.state)||m.state==="completed")?f`<form class="row" onSubmit=${b}><input value=${r} onInput=${v=>u(v.target.value)} placeholder="Message the agent" aria-label="Message" required /><button type="submit">Send</button></form>`:null}
    ${m&&["failed","interrupted","cancelled"].includes(m.state)?f`<button onClick=${()=>k(m.id,{action:"resume"}).catch(a)}>Resume</button>`:null}
    <${Yt} sessionId=${e} disabled=${$.length>0} onError=${a} />
  </section>`}var bt=e=>`${(e/1048576).toFixed(1)} MiB`;function Xt({sessionId:e,onChange:t}){let[n,s]=h(null),[o,a]=h(null),[l,c]=h(null),r=()=>{U(`/sessions/${e}`).then(s,c),U(`/sessions/${e}/resources`).then(a,()=>a(null))};P(r,[e]);async function u(i){try{s(await W(`/sessions/${e}`,{state:i})),t()}catch(d){c(d)}}if(!n)return f`<${j} error=${l} />`;let _=n.state==="archived";return f`<div class="sessionhead row">
    <h1>${n.name}</h1>
    <span class="muted" data-session-state=${n.state}>${n.state}</span>
    ${o?f`<span class="muted" data-resources>disk ${bt(o.disk.usedBytes)} of ${bt(o.disk.limitBytes)} · ${o.disk.usedFiles} of ${o.disk.limitFiles} files · ${o.runningTasks} task(s) active</span>`:null}
    <span class="spacer"></span>
    <button class="link" onClick=${r} aria-label="Refresh the session" title="Refresh">↻</button>
    ${_?f`<button onClick=${()=>u("active")}>Restore</button>`:f`<button onClick=${()=>u("archived")}>Archive</button>`}
    <${j} error=${l} />
  </div>`}function Zt({sessionId:e,tab:t,onChange:n}){return f`<section class="session">
    <${Xt} sessionId=${e} onChange=${n} />
    <div class="tabs" role="tablist">
      <a role="tab" aria-selected=${t==="task"} href=${`#/s/${e}`}>Tasks</a>
      <a role="tab" aria-selected=${t==="files"} href=${`#/s/${e}/files`}>Files</a>
    </div>
    ${t==="files"?f`<${ft} sessionId=${e} />`:f`<${Qt} sessionId=${e} />`}
  </section>`}function en(){let[e,t]=h(null),[n,s]=h(()=>ut()||de()),[o,a]=h(0),{sessionId:l,tab:c}=Wt();if(P(()=>{it(()=>t(null)),n&&(lt()?U("/auth/profile"):G()).then(t,()=>t(null)).finally(()=>s(!1))},[]),n)return f`<p class="muted">Signing in…</p>`;if(!e)return f`<${jt} onSignedIn=${t} />`;async function r(){await dt(),location.hash="#/",t(null)}return f`<div class="shell">
    <header class="row">
      <strong>roo console</strong>
      <span class="spacer"></span>
      <a href="#/account" class="muted" data-user>${e.email}</a>
      <button onClick=${r}>Sign out</button>
    </header>
    <div class="main">
      <${Kt} current=${l} version=${o} onChange=${()=>a(u=>u+1)} />
      ${c==="account"?f`<${$t} />`:l?f`<${Zt} key=${l} sessionId=${l} tab=${c} onChange=${()=>a(u=>u+1)} />`:f`<p class="muted empty">Pick or create a session.</p>`}
    </div>
  </div>`}Ve(f`<${en} />`,document.getElementById("app"));export{j as ErrorLine};
